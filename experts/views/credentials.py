"""The expert's credentials: claims, their private documents, and submission for vetting.

Documents are served here to their owner and to staff who proved a second factor in this
session, always as an attachment (or, for page previews, as a PNG we rendered ourselves),
with headers that stop a browser from sniffing, caching or running anything in our origin.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from experts import selectors, services
from experts.documents import render_page_png
from experts.forms import CredentialForm, DomainGroup, SubmitForm, group_domains
from experts.models import Credential, CredentialDocument, Domain
from experts.states import RESPONSE_CREDENTIAL_STATES, CredentialStatus, credential_is_editable
from experts.views.profile import require_expert
from marketplace.errors import DomainError, InvalidInput, NotFound
from marketplace.http import AuthenticatedHttpRequest
from marketplace.middleware import session_passed_second_factor
from marketplace.models import User

MEGABYTE = 1_048_576
ACCEPTED_UPLOADS = "application/pdf,image/png,image/jpeg,.pdf,.png,.jpg,.jpeg"
# Nothing a user uploaded may run, be sniffed into HTML, or linger in a cache.
PRIVATE_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store, private",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}


def login_or_404(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For URLs naming one object: an anonymous visitor gets a 404, not a login page,
    so the address tells them nothing."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            raise Http404()
        return view(request, *args, **kwargs)

    return guarded


def _own_credential(request: AuthenticatedHttpRequest, pk: int) -> Credential:
    require_expert(request)
    return selectors.credential_page_for_expert(expert=request.user, credential_id=pk)


def _domain_picker(groups: list[DomainGroup], selected: set[str]) -> list[dict[str, Any]]:
    """The grouped checkboxes of the credential form, with the groups in use opened."""
    picker = []
    for group in groups:
        options = [
            {
                "pk": domain.pk,
                "label": f"{domain.name} (whole field)" if domain is group.field else domain.name,
                "checked": str(domain.pk) in selected,
            }
            for domain in group.members
        ]
        picker.append(
            {
                "name": group.field.name,
                "options": options,
                "chosen": sum(1 for option in options if option["checked"]),
            }
        )
    return picker


def _render_form(
    request: AuthenticatedHttpRequest,
    form: CredentialForm,
    domains: list[Domain],
    credential: Credential | None = None,
) -> HttpResponse:
    context = {
        "form": form,
        "credential": credential,
        "domain_picker": _domain_picker(group_domains(domains), form.selected_domains()),
    }
    return render(request, "experts/credential_form.html", context)


def _form_error(form: CredentialForm, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@login_required
@require_GET
def credential_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_expert(request)
    credentials = list(selectors.credential_rows_of_expert(expert=request.user))
    for credential in credentials:
        credential.editable = credential_is_editable(  # type: ignore[attr-defined]
            credential.status, credential.reviewer_id
        )
    context = {"credentials": credentials}
    return render(request, "experts/credential_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def credential_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_expert(request)
    domains = selectors.domain_choices()
    form = CredentialForm(request.POST or None, domains=domains)
    if request.method == "POST" and form.is_valid():
        try:
            credential = services.credential_create(expert=request.user, data=form.claim())
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(
                request, "Draft saved. Now upload the documents that prove it, then submit it."
            )
            return redirect("experts:credential_detail", credential.pk)
    return _render_form(request, form, domains)


@login_or_404
@require_http_methods(["GET", "POST"])
def credential_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    credential = _own_credential(request, pk)
    if not credential_is_editable(credential.status, credential.reviewer_id):
        messages.error(
            request,
            f"This credential is {credential.get_status_display().lower()}; it can only be "
            "edited while it is a draft, needs information, or was rejected.",
        )
        return redirect("experts:credential_detail", credential.pk)
    domains = selectors.domain_choices()
    form = CredentialForm(
        request.POST or None, domains=domains, initial=CredentialForm.initial_for(credential)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.credential_update(
                expert=request.user, credential_id=credential.pk, data=form.claim()
            )
        except NotFound:
            raise Http404() from None
        except DomainError as error:
            _form_error(form, error)
        else:
            messages.success(request, "Your changes are saved.")
            return redirect("experts:credential_detail", credential.pk)
    return _render_form(request, form, domains, credential)


def _render_detail(
    request: AuthenticatedHttpRequest, credential: Credential, submit_form: SubmitForm | None = None
) -> HttpResponse:
    checklist = selectors.credential_checklist(credential=credential)
    editable = credential_is_editable(credential.status, credential.reviewer_id)
    needs_response = credential.status in RESPONSE_CREDENTIAL_STATES
    context = {
        "credential": credential,
        "documents": list(credential.documents.all()),
        "domains": list(credential.domains.all()),
        "checklist": checklist,
        "ready": all(step.done for step in checklist[:-1]),
        "editable": editable,
        "needs_response": needs_response,
        "submit_form": submit_form or SubmitForm(response_required=needs_response),
        "accepted_uploads": ACCEPTED_UPLOADS,
        "upload_limit_mb": settings.MAX_DOCUMENT_UPLOAD_SIZE // MEGABYTE,
    }
    return render(request, "experts/credential_detail.html", context)


@login_or_404
@require_GET
def credential_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _own_credential(request, pk))


@login_or_404
@require_POST
def credential_submit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    credential = _own_credential(request, pk)
    form = SubmitForm(
        request.POST, response_required=credential.status in RESPONSE_CREDENTIAL_STATES
    )
    if not form.is_valid():
        return _render_detail(request, credential, form)
    resubmission = credential.status != CredentialStatus.DRAFT
    try:
        services.credential_submit(
            expert=request.user, credential_id=credential.pk, response=form.cleaned_data["response"]
        )
    except NotFound:
        raise Http404() from None
    except DomainError as error:
        if error.field == "response":
            form.add_error("response", error.message)
        else:
            messages.error(request, error.message)
        return _render_detail(request, credential, form)
    messages.success(
        request,
        ("Resubmitted" if resubmission else "Submitted")
        + " for review. We'll notify you when a reviewer decides.",
    )
    return redirect("experts:credential_detail", credential.pk)


def _too_big_message(name: str, size: int) -> str:
    limit = settings.MAX_DOCUMENT_UPLOAD_SIZE
    return (
        f"“{name[:80]}” is {size / MEGABYTE:.1f} MB; the limit is {limit // MEGABYTE} MB. "
        "Scan at a lower resolution or split it into several files."
    )


@login_or_404
@require_POST
def document_upload(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Attach one file. Its size is checked before it is read, its content by the service."""
    credential = _own_credential(request, pk)
    upload = request.FILES.get("file")
    if getattr(request, "upload_too_large", False):
        limit = settings.MAX_DOCUMENT_UPLOAD_SIZE // MEGABYTE
        messages.error(
            request,
            f"The file was not uploaded: it is larger than the {limit} MB limit. "
            "Scan at a lower resolution or split it.",
        )
        return redirect("experts:credential_detail", credential.pk)
    if upload is None:
        messages.error(request, "Choose a PDF, PNG or JPEG file to upload.")
        return redirect("experts:credential_detail", credential.pk)
    name = upload.name or "document"
    if upload.size is not None and upload.size > settings.MAX_DOCUMENT_UPLOAD_SIZE:
        messages.error(request, _too_big_message(name, upload.size))
        return redirect("experts:credential_detail", credential.pk)
    try:
        document = services.document_add(
            expert=request.user, credential_id=credential.pk, name=name, data=upload.read()
        )
    except NotFound:
        raise Http404() from None
    except DomainError as error:
        messages.error(request, f"“{name[:80]}” was not uploaded. {error.message}")
    else:
        messages.success(request, f"Uploaded {document.original_name}.")
    return redirect("experts:credential_detail", credential.pk)


@login_or_404
@require_POST
def document_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    require_expert(request)
    try:
        document = selectors.document_for_viewer(user=request.user, document_id=pk)
        services.document_remove(expert=request.user, document_id=document.pk)
    except NotFound:
        raise Http404() from None
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Removed {document.original_name}.")
    return redirect("experts:credential_detail", document.credential_id)


# Serving private files ---------------------------------------------------------------------


def _staff_with_second_factor(request: HttpRequest, user: User) -> bool:
    """Staff see documents only from a session that proved TOTP, as on the staff pages."""
    if not user.is_staff:
        return False
    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    return totp is not None and session_passed_second_factor(request, user, totp)


def _viewable_document(request: HttpRequest, pk: int) -> CredentialDocument:
    """The document for its owner or for MFA-verified staff; a 404 for anyone else,
    including anonymous visitors (no login redirect that would confirm it exists)."""
    user = request.user
    if not isinstance(user, User):
        raise Http404()
    document = selectors.document_for_viewer(user=user, document_id=pk)
    if document.credential.expert_id != user.pk and not _staff_with_second_factor(request, user):
        raise Http404()
    return document


def _disposition(as_attachment: bool, filename: str) -> str:
    header = content_disposition_header(as_attachment=as_attachment, filename=filename)
    return header or ("attachment" if as_attachment else "inline")


def _private(response: HttpResponseBase) -> HttpResponseBase:
    for header, value in PRIVATE_FILE_HEADERS.items():
        response[header] = value
    return response


@require_GET
def document_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Send the stored file as an attachment, or let the web server send it in production."""
    document = _viewable_document(request, pk)
    accel_prefix = getattr(settings, "PRIVATE_FILES_X_ACCEL_PREFIX", "")
    if accel_prefix:
        # nginx serves the file from an `internal` location; Django only decides who may.
        response: HttpResponseBase = HttpResponse(content_type=document.content_type)
        response["X-Accel-Redirect"] = f"{accel_prefix}{document.file.name}"
        response["Content-Disposition"] = _disposition(True, document.original_name)
    else:
        response = FileResponse(
            document.file.storage.open(document.file.name, "rb"),
            as_attachment=True,
            filename=document.original_name,
            content_type=document.content_type,
        )
    return _private(response)


@require_GET
def document_page(request: HttpRequest, pk: int, page: int) -> HttpResponseBase:
    """A PNG of one page (0-based) that we rendered, for the in-browser viewer."""
    document = _viewable_document(request, pk)
    if page >= document.page_count:
        raise Http404()
    # Rendering a page costs real CPU: keep each rendering for a day (the file never changes).
    cache_key = f"document-page:{document.sha256}:{document.pk}:{page}"
    png = cache.get(cache_key)
    if png is None:
        with document.file.storage.open(document.file.name, "rb") as stored:
            data = stored.read()
        try:
            png = render_page_png(data=data, content_type=document.content_type, page=page)
        except InvalidInput:
            raise Http404() from None
        cache.set(cache_key, png, timeout=86_400)
    response = HttpResponse(png, content_type="image/png")
    response["Content-Disposition"] = _disposition(False, f"page-{page + 1}.png")
    return _private(response)


urlpatterns = [
    path("credentials/", credential_list, name="credential_list"),
    path("credentials/new/", credential_create, name="credential_create"),
    path("credentials/<int:pk>/", credential_detail, name="credential_detail"),
    path("credentials/<int:pk>/edit/", credential_edit, name="credential_edit"),
    path("credentials/<int:pk>/submit/", credential_submit, name="credential_submit"),
    path("credentials/<int:pk>/documents/", document_upload, name="document_upload"),
    path("credentials/documents/<int:pk>/remove/", document_remove, name="document_remove"),
    path("documents/<int:pk>/", document_download, name="document_download"),
    path("documents/<int:pk>/pages/<int:page>.png", document_page, name="document_page"),
]
