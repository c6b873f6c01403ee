from rest_framework import serializers

from marketplace.models import Notification, Organization


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["slug", "name", "created_at"]
        read_only_fields = fields


class WhoAmISerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["user", "api_key"])
    email = serializers.EmailField(allow_null=True)
    role = serializers.CharField(allow_null=True)
    organizations = OrganizationSerializer(many=True)
    api_key_prefix = serializers.CharField(allow_null=True)


class NotificationSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "text", "link", "read", "created_at"]
        read_only_fields = fields

    def get_read(self, obj: Notification) -> bool:
        return obj.read_at is not None
