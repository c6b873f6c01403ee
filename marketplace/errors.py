"""Domain errors raised by services and selectors, mapped to HTTP at the edges."""


class DomainError(Exception):
    """Base class: a request the domain refuses, with a message fit for the user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The object does not exist or lies outside the caller's scope (answer 404)."""

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class PermissionDenied(DomainError):
    """The caller may see the object but not do this to it (answer 403)."""


class InvalidInput(DomainError):
    """The input is malformed or breaks a rule; nothing was changed (answer 400)."""


class Conflict(DomainError):
    """The object's current state does not allow the change (answer 409)."""
