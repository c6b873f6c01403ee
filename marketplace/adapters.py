from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse

from marketplace import services
from marketplace.models import User


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return reverse("dashboard")

    def login(self, request: HttpRequest, user: User) -> None:  # type: ignore[override]
        """Log the user in (every required factor has been checked) and audit it."""
        super().login(request, user)
        services.user_login_record(user=user, ip_address=self.get_client_ip(request) or None)
