"""The organisation's webhook endpoints and the log of what was sent to them."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from marketplace.errors import DomainError, InvalidInput
from marketplace.http import AuthenticatedHttpRequest, report
from marketplace.views import client_ip
from projects import selectors
from projects.access import LabActor
from projects.forms import WebhookEndpointForm
from projects.models import WebhookEndpoint
from projects.services import webhooks as webhook_services
from projects.states import WebhookEvent
from projects.views.common import DELIVERIES_PER_PAGE, lab_actor, lab_context

EVENT_LABELS = dict(WebhookEvent.choices)


def _render_webhooks(
    request: AuthenticatedHttpRequest,
    actor: LabActor,
    form: WebhookEndpointForm,
    *,
    revealed: WebhookEndpoint | None = None,
    status: int = 200,
) -> HttpResponse:
    endpoints = list(selectors.webhook_endpoints_for_actor(actor=actor))
    for endpoint in endpoints:
        endpoint.event_labels = [  # type: ignore[attr-defined]
            EVENT_LABELS.get(event, event) for event in endpoint.events
        ]
    deliveries = selectors.webhook_deliveries_for_actor(actor=actor)
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    context = lab_context(
        actor,
        endpoints=endpoints,
        page=page,
        form=form,
        revealed=revealed,
        tab="webhooks",
    )
    response = render(request, "projects/webhooks.html", context, status=status)
    if revealed is not None:
        # The page holds a signing secret: keep it out of every cache.
        response["Cache-Control"] = "no-store"
    return response


def _endpoint(actor: LabActor, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    return selectors.webhook_endpoint_for_actor(actor=actor, endpoint_id=endpoint_id)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    actor = lab_actor(request, slug)
    if request.method != "POST":
        return _render_webhooks(request, actor, WebhookEndpointForm())
    form = WebhookEndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint = webhook_services.webhook_endpoint_create(
                actor=actor,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                description=form.cleaned_data["description"],
                ip_address=client_ip(request),
            )
        except InvalidInput as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        except DomainError as error:
            report(request, error)
            return redirect("projects:webhooks", slug)
        else:
            messages.success(
                request,
                f"Endpoint {endpoint.url} added. Reveal its signing secret to check signatures.",
            )
            return redirect("projects:webhooks", slug)
    return _render_webhooks(request, actor, form, status=400)


@login_required
@require_POST
def webhook_reveal(
    request: AuthenticatedHttpRequest, slug: str, endpoint_id: uuid.UUID
) -> HttpResponse:
    """Show the endpoint's signing secret (to managers; a POST, so it is never cached)."""
    actor = lab_actor(request, slug)
    endpoint = _endpoint(actor, endpoint_id)
    if not actor.can_manage:
        messages.error(request, "Only owners and managers can see signing secrets.")
        return redirect("projects:webhooks", slug)
    return _render_webhooks(request, actor, WebhookEndpointForm(), revealed=endpoint)


@login_required
@require_POST
def webhook_rotate(
    request: AuthenticatedHttpRequest, slug: str, endpoint_id: uuid.UUID
) -> HttpResponse:
    actor = lab_actor(request, slug)
    endpoint = _endpoint(actor, endpoint_id)
    try:
        rotated = webhook_services.webhook_endpoint_rotate_secret(
            actor=actor, endpoint=endpoint, ip_address=client_ip(request)
        )
    except DomainError as error:
        report(request, error)
        return redirect("projects:webhooks", slug)
    messages.success(request, f"New signing secret for {rotated.url}; the old one stops now.")
    return _render_webhooks(request, actor, WebhookEndpointForm(), revealed=rotated)


@login_required
@require_POST
def webhook_toggle(
    request: AuthenticatedHttpRequest, slug: str, endpoint_id: uuid.UUID
) -> HttpResponse:
    actor = lab_actor(request, slug)
    endpoint = _endpoint(actor, endpoint_id)
    try:
        updated = webhook_services.webhook_endpoint_update(
            actor=actor,
            endpoint=endpoint,
            is_active=not endpoint.is_active,
            ip_address=client_ip(request),
        )
    except DomainError as error:
        report(request, error)
    else:
        state = "enabled" if updated.is_active else "disabled: it receives nothing"
        messages.success(request, f"{updated.url} is {state}.")
    return redirect("projects:webhooks", slug)


@login_required
@require_POST
def webhook_delete(
    request: AuthenticatedHttpRequest, slug: str, endpoint_id: uuid.UUID
) -> HttpResponse:
    actor = lab_actor(request, slug)
    endpoint = _endpoint(actor, endpoint_id)
    url = endpoint.url
    try:
        webhook_services.webhook_endpoint_delete(
            actor=actor, endpoint=endpoint, ip_address=client_ip(request)
        )
    except DomainError as error:
        report(request, error)
    else:
        messages.success(request, f"{url} was deleted with its delivery log.")
    return redirect("projects:webhooks", slug)


@login_required
@require_POST
def webhook_redeliver(
    request: AuthenticatedHttpRequest, slug: str, delivery_id: uuid.UUID
) -> HttpResponse:
    actor = lab_actor(request, slug)
    delivery = selectors.webhook_delivery_for_actor(actor=actor, delivery_id=delivery_id)
    try:
        webhook_services.webhook_delivery_redeliver(
            actor=actor, delivery=delivery, ip_address=client_ip(request)
        )
    except DomainError as error:
        report(request, error)
    else:
        messages.success(
            request, f"“{delivery.event}” is queued again for {delivery.endpoint.url}."
        )
    return redirect("projects:webhooks", slug)


urlpatterns = [
    path("webhooks/", webhook_list, name="webhooks"),
    path("webhooks/<uuid:endpoint_id>/secret/", webhook_reveal, name="webhook_reveal"),
    path("webhooks/<uuid:endpoint_id>/rotate/", webhook_rotate, name="webhook_rotate"),
    path("webhooks/<uuid:endpoint_id>/toggle/", webhook_toggle, name="webhook_toggle"),
    path("webhooks/<uuid:endpoint_id>/delete/", webhook_delete, name="webhook_delete"),
    path(
        "webhooks/deliveries/<uuid:delivery_id>/redeliver/",
        webhook_redeliver,
        name="webhook_redeliver",
    ),
]
