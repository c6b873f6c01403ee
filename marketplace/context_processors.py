from typing import Any

from django.http import HttpRequest

from marketplace.selectors import unread_notification_count


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Expose the unread notification count to the navigation (one query per page)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notification_count": unread_notification_count(user=user)}
