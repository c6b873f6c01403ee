"""The experts API: own profile and credentials, the staff summary, and the lab summary line."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from experts import selectors, services
from experts.models import ExpertProfile
from experts.serializers import credential_summary
from experts.states import CredentialKind, CredentialStatus
from marketplace import services as core_services
from marketplace.models import AuditEvent, Membership
from tests.experts import factories as ef
from tests.factories import expert, lab_user, log_in_staff, organization, staff_user

pytestmark = pytest.mark.django_db

ME = "api:expert-me"
MY_CREDENTIALS = "api:expert-credential-list"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def _summary_url(person) -> str:
    profile = services.profile_get_or_create(expert=person)
    return reverse("api:expert-summary", args=[profile.public_id])


def _full_profile(person) -> ExpertProfile:
    return services.profile_update(
        expert=person,
        data={
            "headline": "Radiologist, 12 years in chest imaging",
            "bio": "Attending radiologist.",
            "country": "ES",
            "timezone": "Europe/Madrid",
            "weekly_availability_hours": 10,
            "expected_hourly_rate_cents": 12000,
            "years_of_experience": 12,
            "links": ["https://example.org/rivera"],
        },
        languages=[("es", "native"), ("en", "C2")],
        domains=[(ef.domain("medicine-radiology"), "senior"), (ef.domain("medicine"), "mid")],
    )


def _api_key_header() -> dict[str, str]:
    org = organization(name="Helix Labs")
    owner = Membership.objects.get(organization=org)
    issued = core_services.api_key_create(membership=owner, name="ingest")
    return {"HTTP_AUTHORIZATION": f"Api-Key {issued.secret}"}


# Own profile -------------------------------------------------------------------------------


def test_an_expert_without_a_profile_gets_an_empty_one_and_nothing_is_created(api):
    person = expert()
    api.force_login(person)

    response = api.get(reverse(ME))

    assert response.status_code == 200
    body = response.json()
    assert body["headline"] == ""
    assert body["languages"] == []
    assert body["domains"] == []
    assert body["currency"] == "USD"
    assert not ExpertProfile.objects.filter(user=person).exists()


def test_an_expert_reads_their_own_profile(api, django_assert_num_queries):
    person = expert()
    _full_profile(person)
    api.force_login(person)

    # session, user, profile, languages, domains, their domains, the fields of those
    with django_assert_num_queries(7):
        response = api.get(reverse(ME))

    assert response.status_code == 200
    assert response.json() == {
        "headline": "Radiologist, 12 years in chest imaging",
        "bio": "Attending radiologist.",
        "country": "ES",
        "timezone": "Europe/Madrid",
        "weekly_availability_hours": 10,
        "expected_hourly_rate_cents": 12000,
        "currency": "USD",
        "years_of_experience": 12,
        "links": ["https://example.org/rivera"],
        "languages": [
            {"language": "en", "proficiency": "C2"},
            {"language": "es", "proficiency": "native"},
        ],
        "domains": [
            {"domain": "medicine", "domain_name": "Medicine", "seniority": "mid"},
            {
                "domain": "medicine-radiology",
                "domain_name": "Medicine → Radiology",
                "seniority": "senior",
            },
        ],
    }


def test_patch_creates_the_profile_through_the_service(api):
    person = expert()
    api.force_login(person)

    response = api.patch(
        reverse(ME),
        {
            "headline": "  Contracts   lawyer ",
            "country": "NG",
            "timezone": "Africa/Lagos",
            "weekly_availability_hours": 20,
            "links": ["https://example.org/okafor"],
            "languages": [{"language": "en", "proficiency": "native"}],
            "domains": [{"domain": "law-contracts", "seniority": "principal"}],
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["headline"] == "Contracts lawyer"
    assert response.json()["domains"] == [
        {"domain": "law-contracts", "domain_name": "Law → Contracts", "seniority": "principal"}
    ]
    profile = ExpertProfile.objects.get(user=person)
    assert (profile.country.code, profile.timezone, profile.weekly_availability_hours) == (
        "NG",
        "Africa/Lagos",
        20,
    )
    assert list(profile.languages.values_list("language", "proficiency")) == [("en", "native")]
    event = AuditEvent.objects.get(action="expert_profile.update")
    assert event.actor == person
    assert event.after == {"languages": ["en"], "domains": ["law-contracts"]}


def test_patch_keeps_what_it_does_not_mention(api):
    person = expert()
    _full_profile(person)
    api.force_login(person)

    response = api.patch(reverse(ME), {"headline": "Thoracic radiologist"}, format="json")

    assert response.status_code == 200
    profile = selectors.profile_of(expert=person)
    assert profile is not None
    assert profile.headline == "Thoracic radiologist"
    assert (profile.bio, profile.timezone, profile.country.code) == (
        "Attending radiologist.",
        "Europe/Madrid",
        "ES",
    )
    assert profile.links == ["https://example.org/rivera"]
    assert sorted(profile.languages.values_list("language", "proficiency")) == [
        ("en", "C2"),
        ("es", "native"),
    ]
    assert sorted(profile.domains.values_list("domain__slug", "seniority")) == [
        ("medicine", "mid"),
        ("medicine-radiology", "senior"),
    ]


def test_patch_replaces_the_languages_when_given(api):
    person = expert()
    _full_profile(person)
    api.force_login(person)

    response = api.patch(
        reverse(ME), {"languages": [{"language": "fr", "proficiency": "B2"}]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["languages"] == [{"language": "fr", "proficiency": "B2"}]
    assert len(response.json()["domains"]) == 2


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"weekly_availability_hours": 200}, "weekly_availability_hours", "80"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Choose a time zone from the list."),
        ({"links": ["http://example.org/me"]}, "links", "Links must be full https:// addresses"),
        ({"links": ["not a link"]}, "links", "valid URL"),
        ({"country": "XX"}, "country", "not a valid choice"),
        (
            {"domains": [{"domain": "medicine-astrology", "seniority": "senior"}]},
            "domains",
            "Unknown domain: medicine-astrology.",
        ),
        (
            {"domains": [{"domain": "medicine-radiology", "seniority": "guru"}]},
            "domains",
            "not a valid choice",
        ),
        (
            {
                "languages": [
                    {"language": "en", "proficiency": "C1"},
                    {"language": "en", "proficiency": "C2"},
                ]
            },
            "languages",
            "List each language once.",
        ),
        ({"headline": "x" * 141}, "headline", "140"),
    ],
)
def test_a_bad_patch_names_the_field_and_changes_nothing(api, payload, field, message):
    person = expert()
    _full_profile(person)
    before = ExpertProfile.objects.get(user=person)
    audit_before = AuditEvent.objects.count()
    api.force_login(person)

    response = api.patch(reverse(ME), {"headline": "Changed", **payload}, format="json")

    assert response.status_code == 400
    body = response.json()
    # Serializer errors are keyed by field; domain errors carry it in "field".
    assert field in body or body.get("field") == field, body
    assert message in str(body)
    after = ExpertProfile.objects.get(user=person)
    assert after.headline == before.headline
    assert after.updated_at == before.updated_at
    assert after.languages.count() == 2
    assert after.domains.count() == 2
    assert AuditEvent.objects.count() == audit_before


def test_put_is_not_offered(api):
    person = expert()
    api.force_login(person)

    response = api.put(reverse(ME), {"headline": "x"}, format="json")

    assert response.status_code == 405
    assert not ExpertProfile.objects.filter(user=person).exists()


# Own credentials ---------------------------------------------------------------------------


def test_an_expert_lists_their_own_credentials_with_documents(api, django_assert_num_queries):
    person = expert()
    radiology = ef.domain("medicine-radiology")
    drafts = [ef.credential(person, title=f"Credential {n}", identifier=f"ID-{n}") for n in (1, 2)]
    verified = ef.verified_credential(person, title="MD", identifier="LIC-42")
    reviewer, _ = staff_user()
    asked = ef.credential(person, title="Residency", submit=True)
    services.credential_request_info(
        staff=reviewer, credential_id=asked.pk, message="Upload the second page."
    )
    api.force_login(person)

    # session, user, credentials, their domains, their documents
    with django_assert_num_queries(5):
        response = api.get(reverse(MY_CREDENTIALS))

    assert response.status_code == 200
    rows = response.json()
    assert [row["title"] for row in rows] == ["Residency", "MD", "Credential 2", "Credential 1"]
    assert [row["status"] for row in rows] == [
        CredentialStatus.NEEDS_INFO,
        CredentialStatus.VERIFIED,
        CredentialStatus.DRAFT,
        CredentialStatus.DRAFT,
    ]
    assert rows[0]["staff_message"] == "Upload the second page."
    md = rows[1]
    assert md["id"] == verified.pk
    assert md["kind"] == CredentialKind.BOARD_CERTIFICATION
    assert md["identifier"] == "LIC-42"
    assert md["issuer"] == "American Board of Radiology"
    assert md["country"] == "US"
    assert md["issued_on"] == "2015-06-01"
    assert md["domains"] == [radiology.slug]
    assert md["verified_at"] is not None
    [document] = md["documents"]
    stored = verified.documents.get()
    assert document == {
        "id": stored.pk,
        "original_name": "certificate.pdf",
        "content_type": "application/pdf",
        "size": stored.size,
        "page_count": 1,
        "download_url": "http://testserver"
        + reverse("experts:document_download", args=[stored.pk]),
    }
    assert {row["id"] for row in rows[2:]} == {c.pk for c in drafts}


def test_an_expert_never_sees_another_experts_credentials(api):
    mine = expert()
    theirs = expert()
    ef.credential(mine, title="My MD")
    other = ef.credential(theirs, title="Their JD", identifier="BAR-7")
    api.force_login(mine)

    listed = api.get(reverse(MY_CREDENTIALS))
    summary = api.get(_summary_url(theirs))

    assert [row["title"] for row in listed.json()] == ["My MD"]
    assert str(other.pk) not in {str(row["id"]) for row in listed.json()}
    assert "BAR-7" not in listed.content.decode()
    assert summary.status_code == 404
    assert "Their JD" not in summary.content.decode()


@pytest.mark.parametrize("who", ["lab", "staff"])
def test_people_who_are_not_experts_get_404_on_expert_endpoints(api, who):
    person = lab_user() if who == "lab" else staff_user()[0]
    api.force_login(person)

    for name in (ME, MY_CREDENTIALS):
        assert api.get(reverse(name)).status_code == 404
    assert api.patch(reverse(ME), {"headline": "Hi"}, format="json").status_code == 404
    assert not ExpertProfile.objects.exists()


def test_a_lab_api_key_cannot_use_expert_endpoints(api):
    headers = _api_key_header()
    person = expert()
    _full_profile(person)

    for url in (reverse(ME), reverse(MY_CREDENTIALS), _summary_url(person)):
        response = api.get(url, **headers)
        assert response.status_code == 403
        assert response.json()["detail"] == "This endpoint needs a logged-in user, not an API key."
    response = api.patch(reverse(ME), {"headline": "Hacked"}, format="json", **headers)
    assert response.status_code == 403
    assert ExpertProfile.objects.get(user=person).headline != "Hacked"


def test_anonymous_callers_must_authenticate(api):
    person = expert()

    for url in (reverse(ME), reverse(MY_CREDENTIALS), _summary_url(person)):
        assert api.get(url).status_code == 401


# Staff summary -----------------------------------------------------------------------------


def test_staff_read_an_experts_summary_without_documents_or_identifiers(
    api, django_assert_num_queries
):
    person = expert(full_name="Dr. Elena Rivera")
    _full_profile(person)
    radiology = ef.domain("medicine-radiology")
    vetter, secret = staff_user(with_totp=True)
    verified = ef.verified_credential(
        person, reviewer=vetter, title="MD", identifier="LIC-SECRET-42"
    )
    ef.credential(person, title="Residency certificate", identifier="RES-9", submit=True)
    ef.pass_test(person, ef.qualification_test(on=radiology))
    log_in_staff(api, vetter, secret)
    url = _summary_url(person)

    # session, user, TOTP, profile, languages, domains, vetted domains, credentials,
    # credential domains, qualifications
    with django_assert_num_queries(10):
        response = api.get(url)

    assert response.status_code == 200
    body = response.json()
    profile = ExpertProfile.objects.get(user=person)
    month = timezone.localtime(verified.verified_at).strftime("%Y-%m")
    assert body == {
        "public_id": str(profile.public_id),
        "name": "Dr. Elena Rivera",
        "headline": "Radiologist, 12 years in chest imaging",
        "country": "ES",
        "languages": [
            {"language": "en", "proficiency": "C2"},
            {"language": "es", "proficiency": "native"},
        ],
        "domains": [
            {"domain": "medicine", "domain_name": "Medicine", "seniority": "mid"},
            {
                "domain": "medicine-radiology",
                "domain_name": "Medicine → Radiology",
                "seniority": "senior",
            },
        ],
        "vetted_domains": [{"slug": "medicine-radiology", "name": "Medicine → Radiology"}],
        "credentials": [
            {
                "id": body["credentials"][0]["id"],
                "status": "submitted",
                "summary": "Residency certificate, board certification, radiology, submitted",
            },
            {
                "id": verified.pk,
                "status": "verified",
                "summary": f"MD, board certification, radiology, verified {month}",
            },
        ],
        "qualifications": [
            {
                "domain": "medicine-radiology",
                "domain_name": "Medicine → Radiology",
                "best_score_percent": 100,
                "passed": True,
                "passed_at": body["qualifications"][0]["passed_at"],
            }
        ],
    }
    text = response.content.decode()
    for secret_text in ("LIC-SECRET-42", "RES-9", "certificate.pdf", "download"):
        assert secret_text not in text


def test_staff_summary_of_an_unknown_expert_is_404(api):
    vetter, secret = staff_user(with_totp=True)
    log_in_staff(api, vetter, secret)

    response = api.get(reverse("api:expert-summary", args=["5f0e1c8e-1111-4222-8333-944455556666"]))

    assert response.status_code == 404


def test_staff_summary_needs_a_session_that_passed_the_second_factor(api):
    person = expert()
    vetter, _secret = staff_user(with_totp=True)
    api.force_login(vetter)

    response = api.get(_summary_url(person))

    assert response.status_code == 403
    assert "authenticator code" in response.json()["detail"]


@pytest.mark.parametrize("who", ["expert", "lab"])
def test_non_staff_get_404_for_the_staff_summary(api, who):
    person = expert()
    _full_profile(person)
    caller = expert() if who == "expert" else lab_user()
    api.force_login(caller)

    response = api.get(_summary_url(person))

    assert response.status_code == 404
    assert "Rivera" not in response.content.decode()


# The summary line labs will see ------------------------------------------------------------


def test_credential_summary_names_the_claim_but_no_identifier_or_document():
    person = expert()
    reviewer, _ = staff_user()
    submitted = ef.credential(
        person,
        title="MD",
        identifier="ABR-123456",
        domains=[ef.domain("medicine-radiology"), ef.domain("medicine-oncology")],
        submit=True,
    )
    document = submitted.documents.get()
    verified = services.credential_verify(staff=reviewer, credential_id=submitted.pk)
    verified.refresh_from_db()

    summary = credential_summary(verified)

    month = timezone.localtime(verified.verified_at).strftime("%Y-%m")
    assert summary == f"MD, board certification, oncology, radiology, verified {month}"
    assert "ABR-123456" not in summary
    assert document.original_name not in summary
    assert "certificate" not in summary


def test_credential_summary_of_an_unverified_credential_says_its_state():
    person = expert()
    created = services.credential_create(
        expert=person,
        data={
            "kind": CredentialKind.LICENCE,
            "title": "Licensed attorney",
            "issuer": "State Bar of New York",
            "identifier": "NY-55",
            "issued_on": date(2012, 1, 10),
            "domains": [ef.domain("law-contracts")],
        },
    )

    assert credential_summary(created) == "Licensed attorney, licence, contracts, draft"


# Discovery ---------------------------------------------------------------------------------


def test_the_schema_documents_the_expert_endpoints(api):
    response = api.get(reverse("api_schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths["/api/v1/experts/me/"]) >= {"get", "patch"}
    assert "put" not in paths["/api/v1/experts/me/"]
    assert "get" in paths["/api/v1/experts/me/credentials/"]
    assert "get" in paths["/api/v1/experts/{public_id}/"]
    schemas = response.json()["components"]["schemas"]
    assert "download_url" in schemas["CredentialDocument"]["properties"]
    assert list(schemas["CredentialSummary"]["properties"]) == ["id", "status", "summary"]
    assert "identifier" not in schemas["ExpertSummary"]["properties"]


def test_the_api_root_links_the_expert_endpoints(api):
    api.force_login(expert())

    body = api.get(reverse("api:root")).json()

    assert body["expert_profile"] == "http://testserver/api/v1/experts/me/"
    assert body["expert_credentials"] == "http://testserver/api/v1/experts/me/credentials/"
