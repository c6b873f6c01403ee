"""The REST API: keys, scoping, schema, docs and throttling."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from marketplace import services
from marketplace.api_auth import ClientRateThrottle
from marketplace.models import ApiKey, AuditEvent, Membership
from marketplace.states import MembershipRole
from tests.factories import add_member, lab_user, organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def _owner(org) -> Membership:
    return Membership.objects.get(organization=org, role=MembershipRole.OWNER)


def test_a_valid_key_authenticates_as_its_organisation(api):
    org = organization(name="Helix Labs")
    organization(name="Other Lab")
    issued = services.api_key_create(membership=_owner(org), name="ingest")

    response = api.get(reverse("api:me"), HTTP_AUTHORIZATION=f"Api-Key {issued.secret}")

    assert response.status_code == 200
    assert response.json()["kind"] == "api_key"
    assert [o["name"] for o in response.json()["organizations"]] == ["Helix Labs"]
    orgs = api.get(reverse("api:organization-list"), HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert [o["slug"] for o in orgs.json()] == [org.slug]
    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at is not None


@pytest.mark.parametrize("header", ["Api-Key mk_deadbeef_wrong", "Api-Key nonsense", "Api-Key "])
def test_a_wrong_key_gets_401(api, header):
    organization()

    response = api.get(reverse("api:me"), HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Api-Key")


def test_a_revoked_key_gets_401(api):
    org = organization()
    issued = services.api_key_create(membership=_owner(org), name="ingest")
    header = f"Api-Key {issued.secret}"
    assert api.get(reverse("api:me"), HTTP_AUTHORIZATION=header).status_code == 200

    services.api_key_revoke(membership=_owner(org), api_key_id=issued.api_key.pk)

    assert api.get(reverse("api:me"), HTTP_AUTHORIZATION=header).status_code == 401


def test_keys_are_not_stored_in_clear():
    org = organization()
    issued = services.api_key_create(membership=_owner(org), name="ingest")

    row = ApiKey.objects.values().get(pk=issued.api_key.pk)
    assert all(issued.secret not in str(value) for value in row.values())
    assert row["key_hash"] != issued.secret
    assert len(row["key_hash"]) == 64
    event = AuditEvent.objects.get(action="api_key.create")
    assert issued.secret not in str(event.after)


def test_key_page_shows_the_secret_once_and_viewers_cannot_create_keys(client):
    org = organization()
    owner = _owner(org).user
    client.force_login(owner)

    response = client.post(reverse("lab_api_key_create", args=[org.slug]), {"name": "ingest"})

    secret_row = ApiKey.objects.get()
    page = response.content.decode()
    assert 'data-testid="new-api-key"' in page
    assert response["Cache-Control"] == "no-store"
    assert f"mk_{secret_row.prefix}_" in page
    later = client.get(reverse("lab_api_keys", args=[org.slug])).content.decode()
    assert 'data-testid="new-api-key"' not in later

    viewer = lab_user()
    add_member(org, viewer, MembershipRole.VIEWER)
    client.force_login(viewer)
    client.post(reverse("lab_api_key_create", args=[org.slug]), {"name": "mine"})
    assert ApiKey.objects.count() == 1


def test_session_users_see_their_organisations_and_notifications(client):
    org = organization(name="Helix Labs")
    owner = _owner(org).user
    services.notification_create(recipient=owner, kind="hello", text="Hi", send_email=False)
    client.force_login(owner)

    me = client.get(reverse("api:me")).json()
    notifications = client.get(reverse("api:notification-list")).json()

    assert me["kind"] == "user"
    assert me["email"] == owner.email
    assert [o["slug"] for o in me["organizations"]] == [org.slug]
    assert [n["text"] for n in notifications["results"]] == ["Hi"]


def test_api_keys_cannot_read_a_persons_notifications(api):
    org = organization()
    issued = services.api_key_create(membership=_owner(org), name="ingest")

    response = api.get(
        reverse("api:notification-list"), HTTP_AUTHORIZATION=f"Api-Key {issued.secret}"
    )

    assert response.status_code == 403


def test_anonymous_requests_are_refused(api):
    response = api.get(reverse("api:me"))

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Api-Key")
    assert api.get(reverse("api:root")).status_code == 200


def test_schema_and_docs_are_served(client):
    schema = client.get(reverse("api_schema"))
    assert schema.status_code == 200
    body = schema.content.decode()
    assert "/api/v1/me/" in body
    assert "ApiKeyAuth" in body

    docs = client.get(reverse("api_docs")).content.decode()
    assert "swagger-ui" in docs
    assert "<script>" not in docs.replace(" ", "")
    assert "cdn." not in docs


def test_api_requests_are_throttled_per_key(api, monkeypatch):
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "3/min"})
    org = organization()
    issued = services.api_key_create(membership=_owner(org), name="ingest")
    header = f"Api-Key {issued.secret}"

    codes = [api.get(reverse("api:me"), HTTP_AUTHORIZATION=header).status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]


def test_api_endpoints_run_a_bounded_number_of_queries(api, django_assert_num_queries):
    org = organization()
    issued = services.api_key_create(membership=_owner(org), name="ingest")
    header = f"Api-Key {issued.secret}"
    api.get(reverse("api:me"), HTTP_AUTHORIZATION=header)

    with django_assert_num_queries(1):
        api.get(reverse("api:organization-list"), HTTP_AUTHORIZATION=header)
