"""The expert's profile page: one form that saves everything or nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from experts import services
from experts.models import Domain, ExpertProfile
from marketplace.models import AuditEvent
from tests.experts import factories as ef
from tests.factories import expert, lab_user, staff_user

pytestmark = pytest.mark.django_db

URL = reverse("experts:profile")


def rows(
    prefix: str, pairs: list[tuple[str, str]], names: tuple[str, str], total: int = 3, initial=0
):
    """POST data for a formset section: ``pairs`` filled in, the remaining rows blank."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "12",
    }
    for i in range(total):
        first, second = pairs[i] if i < len(pairs) else ("", "")
        data[f"{prefix}-{i}-{names[0]}"] = first
        data[f"{prefix}-{i}-{names[1]}"] = second
    return data


def profile_post(
    *,
    languages: list[tuple[str, str]] | None = None,
    domains: list[tuple[str, str]] | None = None,
    **fields: str,
) -> dict[str, str]:
    radiology, medicine = ef.domain(), ef.domain("medicine")
    data = {
        "headline": "Board-certified   radiologist",
        "bio": "Twelve years reading CT and MRI.",
        "country": "PT",
        "timezone": "Europe/Lisbon",
        "weekly_availability_hours": "15",
        "hourly_rate": "85.50",
        "years_of_experience": "12",
        "links": "https://example.org/me\n\n  https://orcid.org/0000-0002-1825-0097  \n",
        **fields,
    }
    data |= rows(
        "languages",
        [("en", "C2"), ("pt", "native")] if languages is None else languages,
        ("language", "proficiency"),
    )
    data |= rows(
        "domains",
        [(str(radiology.pk), "senior"), (str(medicine.pk), "mid")] if domains is None else domains,
        ("domain", "seniority"),
    )
    return data


def saved_state(person) -> dict:
    profile = ExpertProfile.objects.filter(user=person).first()
    if profile is None:
        return {}
    return {
        "fields": {
            name: getattr(profile, name)
            for name in (
                "headline",
                "bio",
                "timezone",
                "weekly_availability_hours",
                "expected_hourly_rate_cents",
                "years_of_experience",
                "links",
            )
        },
        "country": profile.country.code,
        "languages": sorted(profile.languages.values_list("language", "proficiency")),
        "domains": sorted(profile.domains.values_list("domain__slug", "seniority")),
    }


def test_the_profile_form_saves_every_section(client):
    person = expert()
    client.force_login(person)

    response = client.post(URL, profile_post())

    assert response.status_code == 302
    assert response.url == URL
    assert saved_state(person) == {
        "fields": {
            "headline": "Board-certified radiologist",
            "bio": "Twelve years reading CT and MRI.",
            "timezone": "Europe/Lisbon",
            "weekly_availability_hours": 15,
            "expected_hourly_rate_cents": 8550,
            "years_of_experience": 12,
            "links": ["https://example.org/me", "https://orcid.org/0000-0002-1825-0097"],
        },
        "country": "PT",
        "languages": [("en", "C2"), ("pt", "native")],
        "domains": [("medicine", "mid"), ("medicine-radiology", "senior")],
    }
    assert AuditEvent.objects.filter(action="expert_profile.update").count() == 1
    page = client.get(URL).content.decode()
    assert "Your profile is saved." in page
    assert 'value="85.50"' in page
    assert '<option value="Europe/Lisbon" selected>' in page
    assert '<optgroup label="Medicine">' in page


def test_blank_rows_are_ignored_and_clearing_a_row_removes_it(client):
    person = expert()
    client.force_login(person)
    client.post(URL, profile_post())

    # As the browser sends it: the two saved rows first (the first one cleared), then blanks.
    data = profile_post(hourly_rate="")
    data |= rows("languages", [("", ""), ("pt", "native")], ("language", "proficiency"), 5, 2)
    client.post(URL, data)

    state = saved_state(person)
    assert state["languages"] == [("pt", "native")]
    assert state["fields"]["expected_hourly_rate_cents"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hourly_rate": "85.555"}, "Use dollars and cents only, e.g. 85.50."),
        ({"hourly_rate": "-1"}, "The rate cannot be negative."),
        ({"hourly_rate": "ten"}, "Enter an amount in dollars, e.g. 85 or 85.50."),
        ({"weekly_availability_hours": "81"}, "Ensure this value is less than or equal to 80."),
        ({"timezone": "Mars/Olympus_Mons"}, "Select a valid choice."),
        ({"country": "XX"}, "Select a valid choice."),
        ({"links": "http://example.org/insecure"}, "is not a full https:// address"),
        ({"links": "javascript:alert(1)"}, "is not a full https:// address"),
        ({"links": "\n".join(f"https://e.org/{n}" for n in range(6))}, "Add at most 5 links"),
        ({"languages": [("en", "C2"), ("en", "B1")]}, "List each language once."),
        ({"languages": [("en", "")]}, "Choose both a language and your level"),
        ({"languages": [("xx", "C2")]}, "Select a valid choice."),
        ({"domains": [("999999", "senior")]}, "Select a valid choice."),
        ({"domains": [("", "senior")]}, "Choose both a domain and your seniority"),
        ({"domains": [("DUP", "senior"), ("DUP", "mid")]}, "List each domain or specialty once."),
    ],
)
def test_a_validation_error_anywhere_saves_nothing(client, change, message):
    person = expert()
    client.force_login(person)
    client.post(URL, profile_post())
    before = saved_state(person)
    audit_count = AuditEvent.objects.count()
    if change.get("domains") and change["domains"][0][0] == "DUP":
        pk = str(ef.domain("law-contracts").pk)
        change = {"domains": [(pk, level) for _, level in change["domains"]]}

    response = client.post(URL, profile_post(headline="Changed headline", **change))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was saved. Fix the problems marked below." in page
    assert message in page
    assert saved_state(person) == before
    assert AuditEvent.objects.count() == audit_count


def test_an_inactive_domain_cannot_be_chosen(client):
    person = expert()
    client.force_login(person)
    retired = ef.domain("law-tax")
    Domain.objects.filter(pk=retired.pk).update(is_active=False)

    response = client.post(URL, profile_post(domains=[(str(retired.pk), "senior")]))

    assert "Select a valid choice." in response.content.decode()
    assert not ExpertProfile.objects.filter(user=person).exists()


def test_opening_the_page_writes_nothing(client):
    person = expert()
    client.force_login(person)

    page = client.get(URL).content.decode()

    assert "Save profile" in page
    assert 'name="languages-TOTAL_FORMS" value="2"' in page
    assert not ExpertProfile.objects.filter(user=person).exists()


def test_only_experts_have_a_profile_page(client):
    assert client.get(URL).status_code == 302  # anonymous: log in first
    for user in (lab_user(), staff_user()[0]):
        client.force_login(user)
        assert client.get(URL).status_code == 404
        assert client.post(URL, profile_post()).status_code == 404
    assert not ExpertProfile.objects.exists()


def test_the_profile_page_has_bounded_queries(client, django_assert_num_queries):
    person = expert()
    services.profile_update(
        expert=person,
        data={"headline": "Radiologist", "timezone": "Europe/Lisbon"},
        languages=[("en", "C2"), ("pt", "native"), ("es", "B2")],
        domains=[
            (ef.domain(), "senior"),
            (ef.domain("medicine"), "mid"),
            (ef.domain("medicine-cardiology"), "junior"),
        ],
    )
    client.force_login(person)
    client.get(URL)

    # session, user, profile, languages, expert domains, domain choices, unread count
    with django_assert_num_queries(7):
        page = client.get(URL).content.decode()

    assert page.count(" selected>Native</option>") == 1
    assert page.count(" selected>Senior (7 to 15 years)</option>") == 1


# The expert dashboard ----------------------------------------------------------------------


def test_the_dashboard_shows_vetting_progress_with_bounded_queries(
    client, django_assert_num_queries
):
    from marketplace.services import notification_create

    person = expert(full_name="Elena Rivera")
    reviewer, _ = staff_user()
    radiology = ef.domain()
    services.profile_update(
        expert=person,
        data={"headline": "Radiologist"},
        languages=[("en", "C2"), ("pt", "native")],
        domains=[(radiology, "senior"), (ef.domain("medicine"), "mid")],
    )
    ef.verified_credential(person, reviewer=reviewer, domains=[radiology])
    asked = ef.credential(person, title="Licence", submit=True)
    services.credential_request_info(staff=reviewer, credential_id=asked.pk, message="Back?")
    ef.credential(person, title="PhD")
    ef.pass_test(person, ef.qualification_test(on=radiology))
    cardiology_test = ef.qualification_test(on=ef.domain("medicine-cardiology"))
    attempt = services.attempt_start(expert=person, test_id=cardiology_test.pk)
    services.attempt_submit(expert=person, attempt_id=attempt.pk, answers={})
    for n in range(7):
        notification_create(recipient=person, kind="test", text=f"Note {n}")
    client.force_login(person)
    url = reverse("experts:dashboard")
    client.get(url)

    # session, user, MFA check, onboarding (profile, its languages, domains and their fields,
    # credentials, passed tests), credential counts, vetted domains, qualification results,
    # open invitations, notifications, unread count
    with django_assert_num_queries(16):
        page = client.get(url).content.decode()

    assert "Welcome, Elena Rivera" in page
    assert "Vetted for Radiology" in page
    assert "A credential needs your attention" in page
    assert "Verified</span> <span>1 credential</span>" in page
    assert "Needs information</span> <span>1 credential</span>" in page
    assert "Draft</span> <span>1 credential</span>" in page
    assert "<td>Medicine → Radiology</td>\n            <td>100%</td>" in page
    assert "<td>Medicine → Cardiology</td>\n            <td>0%</td>" in page
    assert "Not passed yet" in page
    assert page.count('class="notification unread"') == 5
    assert "Note 6" in page
    assert "Note 1" not in page
    assert "Done: </span>Build your profile" in page
    assert "Next: turn on two-factor authentication" in page


def test_the_dashboard_is_for_experts_only(client):
    client.force_login(lab_user())
    assert client.get(reverse("experts:dashboard")).status_code == 404
