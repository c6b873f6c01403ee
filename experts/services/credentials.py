"""Credentials: the expert's claims, their documents, and the staff's vetting decisions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from experts.documents import inspect_upload
from experts.models import Credential, CredentialDocument, Domain
from experts.states import (
    CREDENTIAL_TRANSITIONS,
    EDITABLE_CREDENTIAL_STATES,
    RESPONSE_CREDENTIAL_STATES,
    CredentialKind,
    CredentialStatus,
    credential_is_editable,
)
from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import User
from marketplace.services import audit_record, notification_create
from marketplace.states import UserRole

MAX_DOCUMENTS_PER_CREDENTIAL = 10
EXPIRY_WARNING = timedelta(days=30)
CREDENTIAL_FIELDS = ("kind", "title", "issuer", "identifier", "country", "issued_on", "expires_on")


def _require_expert(user: User) -> None:
    if user.role != UserRole.EXPERT:
        raise PermissionDenied("Only expert accounts hold credentials.")


def _lock_own(expert: User, credential_id: int) -> Credential:
    try:
        return Credential.objects.select_for_update().get(pk=credential_id, expert=expert)
    except Credential.DoesNotExist:
        raise NotFound() from None


def _transition(credential: Credential, to: str) -> str:
    previous = credential.status
    if to not in CREDENTIAL_TRANSITIONS.get(previous, frozenset()):
        raise Conflict(
            f"This credential is {credential.get_status_display().lower()} and cannot become "
            f"{CredentialStatus(to).label.lower()}."
        )
    credential.status = to
    return previous


def _clean_claim(data: dict[str, Any]) -> tuple[dict[str, Any], list[Domain]]:
    claim = {field: data.get(field) for field in CREDENTIAL_FIELDS}
    if claim["kind"] not in CredentialKind.values:
        raise InvalidInput("Choose what kind of credential this is.", field="kind")
    for field in ("title", "issuer", "identifier"):
        claim[field] = " ".join(str(claim[field] or "").split())
    if not claim["title"]:
        raise InvalidInput("Name the credential, e.g. “MD” or “Licensed attorney”.", "title")
    if not claim["issuer"]:
        raise InvalidInput("Say who issued it, e.g. the university or the board.", "issuer")
    claim["country"] = claim["country"] or ""
    issued, expires = claim["issued_on"], claim["expires_on"]
    if issued and issued > timezone.localdate():
        raise InvalidInput("The issue date is in the future.", field="issued_on")
    if issued and expires and expires <= issued:
        raise InvalidInput("The expiry date must come after the issue date.", field="expires_on")
    domains = list(data.get("domains") or [])
    if not domains:
        raise InvalidInput("Choose at least one domain this credential supports.", "domains")
    return claim, domains


def credential_create(*, expert: User, data: dict[str, Any]) -> Credential:
    """Create a draft credential. ``data`` holds the claim fields and ``domains``."""
    _require_expert(expert)
    claim, domains = _clean_claim(data)
    with transaction.atomic():
        credential = Credential.objects.create(expert=expert, **claim)
        credential.domains.set(domains)
        audit_record(
            actor=expert,
            action="credential.create",
            target=credential,
            after={"kind": claim["kind"], "title": claim["title"]},
        )
    return credential


def credential_update(*, expert: User, credential_id: int, data: dict[str, Any]) -> Credential:
    """Edit a claim while it is a draft, needs information, or was rejected."""
    claim, domains = _clean_claim(data)
    with transaction.atomic():
        credential = _lock_own(expert, credential_id)
        if not credential_is_editable(credential.status, credential.reviewer_id):
            raise Conflict("A credential under review or verified cannot be edited.")
        before = {field: str(getattr(credential, field)) for field in CREDENTIAL_FIELDS}
        for field, value in claim.items():
            setattr(credential, field, value)
        credential.save()
        credential.domains.set(domains)
        audit_record(
            actor=expert,
            action="credential.update",
            target=credential,
            before=before,
            after={field: str(getattr(credential, field)) for field in CREDENTIAL_FIELDS},
        )
    return credential


def document_add(*, expert: User, credential_id: int, name: str, data: bytes) -> CredentialDocument:
    """Attach an uploaded document after checking its content; a refusal stores nothing."""
    inspected = inspect_upload(name=name, data=data)
    with transaction.atomic():
        credential = _lock_own(expert, credential_id)
        if not credential_is_editable(credential.status, credential.reviewer_id):
            raise Conflict("Documents can only be added while the credential is editable.")
        if credential.documents.count() >= MAX_DOCUMENTS_PER_CREDENTIAL:
            raise Conflict(f"A credential holds at most {MAX_DOCUMENTS_PER_CREDENTIAL} documents.")
        document = CredentialDocument(
            credential=credential,
            original_name=inspected.original_name,
            content_type=inspected.content_type,
            size=inspected.size,
            page_count=inspected.page_count,
            sha256=inspected.sha256,
            uploaded_by=expert,
        )
        document.file.save("upload", ContentFile(inspected.content), save=False)
        stored_name = document.file.name
        try:
            document.save()
            audit_record(
                actor=expert,
                action="credential.document_add",
                target=credential,
                after={"document": inspected.original_name, "sha256": inspected.sha256},
            )
        except Exception:
            document.file.storage.delete(stored_name)
            raise
    return document


def document_remove(*, expert: User, document_id: int) -> None:
    with transaction.atomic():
        try:
            document = CredentialDocument.objects.select_related("credential").get(
                pk=document_id, credential__expert=expert
            )
        except CredentialDocument.DoesNotExist:
            raise NotFound() from None
        credential = _lock_own(expert, document.credential_id)
        if not credential_is_editable(credential.status, credential.reviewer_id):
            raise Conflict("Documents can only be removed while the credential is editable.")
        name = document.file.name
        audit_record(
            actor=expert,
            action="credential.document_remove",
            target=credential,
            # Keep the fingerprint: the duplicate-document signal must survive a deletion.
            before={"document": document.original_name, "sha256": document.sha256},
        )
        document.delete()
        transaction.on_commit(lambda: document.file.storage.delete(name))


def credential_submit(*, expert: User, credential_id: int, response: str = "") -> Credential:
    """Send a credential to the staff queue (again, after needs-info or a rejection)."""
    with transaction.atomic():
        credential = _lock_own(expert, credential_id)
        if credential.status not in EDITABLE_CREDENTIAL_STATES:
            raise Conflict(
                f"This credential is {credential.get_status_display().lower()} and cannot become "
                "submitted again now."
            )
        if not credential.documents.exists():
            raise InvalidInput("Upload at least one document before submitting.", field="file")
        if credential.status in RESPONSE_CREDENTIAL_STATES:
            response = response.strip()
            if not response:
                raise InvalidInput(
                    "Tell the reviewer what you changed or answer their question.", "response"
                )
            credential.expert_response = response[:4000]
        previous = _transition(credential, CredentialStatus.SUBMITTED)
        credential.submitted_at = timezone.now()
        credential.reviewer = None
        credential.save()
        audit_record(
            actor=expert,
            action="credential.submit",
            target=credential,
            before={"status": previous},
            after={"status": credential.status},
        )
    return credential


# Staff ---------------------------------------------------------------------------------


def _lock_for_staff(staff: User, credential_id: int) -> Credential:
    if not staff.is_staff:
        raise NotFound()
    try:
        credential = (
            Credential.objects.select_for_update(of=("self",))
            .select_related("expert", "reviewer")
            .get(pk=credential_id)
        )
    except Credential.DoesNotExist:
        raise NotFound() from None
    if credential.expert_id == staff.pk:
        raise PermissionDenied("You cannot vet your own credential.")
    return credential


def _reviewer_name(credential: Credential) -> str:
    return credential.reviewer.email if credential.reviewer else "another reviewer"


def _claim(credential: Credential, staff: User, *, ip_address: str | None = None) -> None:
    """Make ``staff`` the reviewer and audit it; the caller saves. Call with the row locked."""
    previous = _transition(credential, CredentialStatus.IN_REVIEW)
    credential.reviewer = staff
    credential.review_started_at = timezone.now()
    audit_record(
        actor=staff,
        action="credential.start_review",
        target=credential,
        before={"status": previous},
        after={"status": credential.status},
        ip_address=ip_address,
    )


def credential_start_review(*, staff: User, credential_id: int) -> Credential:
    """Claim a submitted credential for review. A second reviewer sees it was taken."""
    with transaction.atomic():
        credential = _lock_for_staff(staff, credential_id)
        if credential.status == CredentialStatus.IN_REVIEW:
            if credential.reviewer_id == staff.pk:
                return credential
            raise Conflict(f"{_reviewer_name(credential)} is already reviewing this credential.")
        _claim(credential, staff)
        credential.save()
    return credential


STALE_REVIEW = timedelta(hours=24)


def credential_release_review(*, staff: User, credential_id: int) -> Credential:
    """Hand a claimed credential back to the queue: the reviewer at any time, any other
    staff member once the claim is a day old (a reviewer who walked away)."""
    with transaction.atomic():
        credential = _lock_for_staff(staff, credential_id)
        if credential.status != CredentialStatus.IN_REVIEW:
            raise Conflict("Only a credential in review can be released.")
        started = credential.review_started_at or timezone.now()
        if credential.reviewer_id != staff.pk and timezone.now() - started < STALE_REVIEW:
            raise Conflict(f"{_reviewer_name(credential)} started this review less than a day ago.")
        previous_reviewer = credential.reviewer.email if credential.reviewer else ""
        _transition(credential, CredentialStatus.SUBMITTED)
        credential.reviewer = None
        credential.review_started_at = None
        credential.save()
        audit_record(
            actor=staff,
            action="credential.release_review",
            target=credential,
            before={"status": CredentialStatus.IN_REVIEW, "reviewer": previous_reviewer},
            after={"status": CredentialStatus.SUBMITTED},
        )
    return credential


# Decisions the expert must be told the reason for, with the prompt when it is missing.
MESSAGE_REQUIRED: dict[str, str] = {
    CredentialStatus.REJECTED: "Give the expert the reason for the rejection.",
    CredentialStatus.NEEDS_INFO: "Tell the expert what information you need.",
}


def _decide(
    *,
    staff: User,
    credential_id: int,
    to: str,
    message: str,
    expected_version: str | None,
    ip_address: str | None,
) -> Credential:
    message = message.strip()
    if to in MESSAGE_REQUIRED and not message:
        raise InvalidInput(MESSAGE_REQUIRED[to], field="message")
    with transaction.atomic():
        credential = _lock_for_staff(staff, credential_id)
        if expected_version is not None and expected_version != credential_version(credential):
            raise Conflict(
                "This credential changed while you were looking at it. Reload and decide again."
            )
        if credential.status == CredentialStatus.SUBMITTED and credential.reviewer_id is None:
            # Deciding straight from the queue claims the review first.
            _claim(credential, staff, ip_address=ip_address)
        elif credential.status == CredentialStatus.IN_REVIEW and credential.reviewer_id != staff.pk:
            raise Conflict(
                f"{_reviewer_name(credential)} is reviewing this credential; only they can decide."
            )
        previous = credential.status
        expires_on = credential.expires_on
        if to == CredentialStatus.VERIFIED and expires_on and expires_on < timezone.localdate():
            raise InvalidInput(
                f"This credential expired on {expires_on:%Y-%m-%d}; it cannot be verified. "
                "Ask for a renewed document instead."
            )
        _transition(credential, to)
        now = timezone.now()
        credential.staff_message = message
        credential.decided_at = now
        if to == CredentialStatus.VERIFIED:
            credential.verified_at = now
            credential.expiry_warned_at = None
            from projects.matching.services import matching_run_request

            # A verified credential may make the expert vetted for a domain.
            matching_run_request(trigger="expert_vetted")
        credential.save()
        audit_record(
            actor=staff,
            action=f"credential.{to}",
            target=credential,
            before={"status": previous},
            after={"status": to, "message": message},
            ip_address=ip_address,
        )
        texts: dict[str, str] = {
            CredentialStatus.VERIFIED: f"Your credential “{credential.title}” was verified.",
            CredentialStatus.REJECTED: f"Your credential “{credential.title}” was not accepted.",
            CredentialStatus.NEEDS_INFO: (
                f"A reviewer needs more information about “{credential.title}”."
            ),
        }
        notification_create(
            recipient=credential.expert,
            kind=f"credential.{to}",
            text=texts[to],
            link=reverse("experts:credential_detail", args=[credential.pk]),
        )
    return credential


def credential_version(credential: Credential) -> str:
    """A token that changes whenever the credential does, for optimistic decision forms."""
    return f"{credential.status}:{credential.updated_at.isoformat()}"


def credential_verify(
    *,
    staff: User,
    credential_id: int,
    message: str = "",
    expected_version: str | None = None,
    ip_address: str | None = None,
) -> Credential:
    return _decide(
        staff=staff,
        credential_id=credential_id,
        to=CredentialStatus.VERIFIED,
        message=message,
        expected_version=expected_version,
        ip_address=ip_address,
    )


def credential_reject(
    *,
    staff: User,
    credential_id: int,
    reason: str,
    expected_version: str | None = None,
    ip_address: str | None = None,
) -> Credential:
    return _decide(
        staff=staff,
        credential_id=credential_id,
        to=CredentialStatus.REJECTED,
        message=reason,
        expected_version=expected_version,
        ip_address=ip_address,
    )


def credential_request_info(
    *,
    staff: User,
    credential_id: int,
    message: str,
    expected_version: str | None = None,
    ip_address: str | None = None,
) -> Credential:
    return _decide(
        staff=staff,
        credential_id=credential_id,
        to=CredentialStatus.NEEDS_INFO,
        message=message,
        expected_version=expected_version,
        ip_address=ip_address,
    )


# Scheduled -----------------------------------------------------------------------------


def credentials_review_expired(*, today: date | None = None) -> int:
    """Send verified credentials past their expiry date back to review; tell their experts."""
    today = today or timezone.localdate()
    count = 0
    for credential_id in Credential.objects.filter(
        status=CredentialStatus.VERIFIED, expires_on__lt=today
    ).values_list("pk", flat=True):
        with transaction.atomic():
            credential = (
                Credential.objects.select_for_update(of=("self",))
                .select_related("expert")
                .get(pk=credential_id)
            )
            if credential.status != CredentialStatus.VERIFIED or not (
                credential.expires_on and credential.expires_on < today
            ):
                continue
            _transition(credential, CredentialStatus.SUBMITTED)
            credential.submitted_at = timezone.now()
            credential.reviewer = None
            credential.staff_message = (
                f"Expired on {credential.expires_on:%Y-%m-%d}. It is back in the review queue: "
                "upload the renewed document and its new expiry date here."
            )
            credential.save()
            audit_record(
                actor=None,
                action="credential.expired",
                target=credential,
                before={"status": CredentialStatus.VERIFIED},
                after={"status": CredentialStatus.SUBMITTED},
            )
            notification_create(
                recipient=credential.expert,
                kind="credential.expired",
                text=f"Your credential “{credential.title}” expired and is back in review.",
                link=reverse("experts:credential_detail", args=[credential.pk]),
            )
            count += 1
    return count


def credentials_warn_expiring(*, today: date | None = None) -> int:
    """Tell experts, once, 30 days before a verified credential expires."""
    today = today or timezone.localdate()
    count = 0
    for credential_id in Credential.objects.filter(
        status=CredentialStatus.VERIFIED,
        expires_on__gte=today,
        expires_on__lte=today + EXPIRY_WARNING,
        expiry_warned_at__isnull=True,
    ).values_list("pk", flat=True):
        with transaction.atomic():
            updated = Credential.objects.filter(
                pk=credential_id, expiry_warned_at__isnull=True
            ).update(expiry_warned_at=timezone.now())
            if not updated:
                continue
            credential = Credential.objects.select_related("expert").get(pk=credential_id)
            notification_create(
                recipient=credential.expert,
                kind="credential.expiring",
                text=(
                    f"Your credential “{credential.title}” expires on "
                    f"{credential.expires_on:%Y-%m-%d}. Then it returns to review: have the "
                    "renewed document ready to upload."
                ),
                link=reverse("experts:credential_detail", args=[credential.pk]),
            )
            count += 1
    return count
