from typing import Any

from allauth.account.adapter import get_adapter
from django import forms
from django.http import HttpRequest

from marketplace import services
from marketplace.models import User
from marketplace.states import MembershipRole, UserRole


class RoleSignupForm(forms.Form):
    """Extra sign-up fields: who you are joining as."""

    role = forms.ChoiceField(
        label="I am joining as",
        choices=[
            (UserRole.EXPERT, "An expert — I want to do paid expert data work"),
            (UserRole.LAB, "A lab — my team needs expert data"),
        ],
        widget=forms.RadioSelect,
        initial=UserRole.EXPERT,
    )
    full_name = forms.CharField(label="Full name", max_length=150, required=False)

    field_order = ["role", "full_name", "email", "password1", "password2"]

    def signup(self, request: HttpRequest, user: User) -> None:
        services.user_signup_complete(
            user=user,
            role=self.cleaned_data["role"],
            full_name=self.cleaned_data.get("full_name", ""),
            ip_address=get_adapter(request).get_client_ip(request),
        )


class OrganizationForm(forms.Form):
    name = forms.CharField(label="Organisation name", max_length=120)


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Colleague's e-mail")
    role = forms.ChoiceField(choices=MembershipRole.choices, initial=MembershipRole.VIEWER)


class MembershipRoleForm(forms.Form):
    role = forms.ChoiceField(choices=MembershipRole.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Key name",
        max_length=80,
        help_text="What will use it, e.g. “nightly task import”.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["autocomplete"] = "off"
