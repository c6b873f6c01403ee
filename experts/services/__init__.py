"""Writes for experts: profile, credentials and vetting, qualification tests."""

from experts.services.credentials import (
    credential_create,
    credential_reject,
    credential_release_review,
    credential_request_info,
    credential_start_review,
    credential_submit,
    credential_update,
    credential_verify,
    credential_version,
    credentials_review_expired,
    credentials_warn_expiring,
    document_add,
    document_remove,
)
from experts.services.profile import profile_get_or_create, profile_update
from experts.services.qualification import (
    attempt_grade,
    attempt_next_allowed_at,
    attempt_start,
    attempt_submit,
    qualification_test_save,
    question_add,
)

__all__ = [
    "attempt_grade",
    "attempt_next_allowed_at",
    "attempt_start",
    "attempt_submit",
    "credential_create",
    "credential_reject",
    "credential_release_review",
    "credential_request_info",
    "credential_start_review",
    "credential_submit",
    "credential_update",
    "credential_verify",
    "credential_version",
    "credentials_review_expired",
    "credentials_warn_expiring",
    "document_add",
    "document_remove",
    "profile_get_or_create",
    "profile_update",
    "qualification_test_save",
    "question_add",
]
