"""The expert's credential pages: create, edit, submit, answer the reviewer, resubmit."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from experts import services
from experts.models import Credential
from experts.states import CredentialStatus
from marketplace.models import AuditEvent
from tests.experts import factories as ef
from tests.factories import expert, lab_user, staff_user

pytestmark = pytest.mark.django_db


def claim(**fields) -> dict:
    data = {
        "kind": "licence",
        "title": "Licensed physician",
        "issuer": "Ordem dos Médicos",
        "identifier": "OM-12345",
        "country": "PT",
        "issued_on": "2012-07-01",
        "expires_on": "2030-07-01",
        "domains": [str(ef.domain("medicine").pk), str(ef.domain().pk)],
    }
    data.update(fields)
    return data


def upload(client, credential: Credential, data: bytes | None = None, name: str = "licence.pdf"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile(name, ef.pdf_bytes() if data is None else data)
    return client.post(reverse("experts:document_upload", args=[credential.pk]), {"file": file})


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_create_upload_and_submit_through_the_pages(client):
    person = expert()
    client.force_login(person)

    page = client.get(reverse("experts:credential_create")).content.decode()
    assert "Medicine (whole field)" in page
    assert 'type="date"' in page

    response = client.post(reverse("experts:credential_create"), claim())

    credential = Credential.objects.get(expert=person)
    assert response.url == reverse("experts:credential_detail", args=[credential.pk])
    assert credential.status == CredentialStatus.DRAFT
    assert (credential.kind, credential.title, credential.identifier) == (
        "licence",
        "Licensed physician",
        "OM-12345",
    )
    assert credential.country.code == "PT"
    assert (credential.issued_on, credential.expires_on) == (date(2012, 7, 1), date(2030, 7, 1))
    assert {d.slug for d in credential.domains.all()} == {"medicine", "medicine-radiology"}

    detail = client.get(response.url).content.decode()
    assert "To do: </span>Upload at least one document that proves it" in detail
    assert "Done: </span>Choose the domains it supports" in detail
    assert "disabled>Submit for review</button>" in detail

    response = upload(client, credential)
    assert response.status_code == 302
    detail = client.get(response.url).content.decode()
    assert "Uploaded licence.pdf." in detail
    assert "Done: </span>Upload at least one document that proves it" in detail
    assert '<button type="submit">Submit for review</button>' in detail

    response = client.post(reverse("experts:credential_submit", args=[credential.pk]))

    credential.refresh_from_db()
    assert credential.status == CredentialStatus.SUBMITTED
    assert credential.submitted_at is not None
    assert "Submitted for review." in client.get(response.url).content.decode()


@pytest.mark.parametrize(
    ("change", "field_error"),
    [
        ({"title": "  "}, "This field is required."),
        ({"kind": "diploma-mill"}, "Select a valid choice."),
        ({"domains": []}, "Choose at least one domain this credential supports."),
        ({"domains": ["999999"]}, "Select a valid choice."),
        ({"issued_on": "2020-01-01", "expires_on": "2019-01-01"}, "must come after the issue"),
        ({"issued_on": "2999-01-01", "expires_on": ""}, "The issue date is in the future."),
        ({"issued_on": "2020-13-45"}, "Enter a valid date."),
    ],
)
def test_a_refused_claim_saves_nothing(client, change, field_error):
    client.force_login(expert())

    response = client.post(reverse("experts:credential_create"), claim(**change))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was saved." in page
    assert field_error in page
    assert not Credential.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="credential.").exists()


def test_the_form_keeps_chosen_domains_open_after_an_error(client):
    client.force_login(expert())

    page = client.post(reverse("experts:credential_create"), claim(title="")).content.decode()

    radiology = ef.domain()
    assert f'value="{radiology.pk}" checked' in page
    assert (
        '<details open>\n          <summary>Medicine <span class="badge ok">2 chosen</span>' in page
    )


def test_edit_a_draft(client):
    person = expert()
    draft = ef.credential(person)
    client.force_login(person)

    page = client.get(reverse("experts:credential_edit", args=[draft.pk])).content.decode()
    assert 'value="Board certified in radiology"' in page
    assert 'value="2015-06-01"' in page

    response = client.post(
        reverse("experts:credential_edit", args=[draft.pk]),
        claim(title="Board certified in cardiology", domains=[str(ef.domain("medicine").pk)]),
    )

    assert response.url == reverse("experts:credential_detail", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.title == "Board certified in cardiology"
    assert [d.slug for d in draft.domains.all()] == ["medicine"]


def test_a_credential_in_review_cannot_be_edited(client):
    person = expert()
    submitted = ef.credential(person, submit=True)
    services.credential_start_review(staff=staff_user()[0], credential_id=submitted.pk)
    client.force_login(person)
    url = reverse("experts:credential_edit", args=[submitted.pk])

    response = client.get(url, follow=True)
    assert response.redirect_chain == [
        (reverse("experts:credential_detail", args=[submitted.pk]), 302)
    ]
    assert (
        "This credential is in review; it can only be edited while it is a draft"
        in (messages_of(response)[0])
    )
    assert "Edit the claim" not in response.content.decode()
    assert "Add a document" not in response.content.decode()

    response = client.post(url, claim(title="Sneaky change"), follow=True)

    assert "can only be edited while" in messages_of(response)[0]
    submitted.refresh_from_db()
    assert submitted.title == "Board certified in radiology"
    assert submitted.status == CredentialStatus.IN_REVIEW
    assert not AuditEvent.objects.filter(action="credential.update").exists()

    # Nor can documents be added to it or resubmitted.
    response = upload(client, submitted)
    assert submitted.documents.count() == 1
    response = client.post(reverse("experts:credential_submit", args=[submitted.pk]), follow=True)
    assert "cannot become submitted" in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.status == CredentialStatus.IN_REVIEW


def test_answer_the_reviewer_and_resubmit(client):
    person = expert()
    reviewer, _ = staff_user()
    submitted = ef.credential(person, submit=True)
    services.credential_request_info(
        staff=reviewer, credential_id=submitted.pk, message="Upload the back of the licence."
    )
    client.force_login(person)

    listing = client.get(reverse("experts:credential_list")).content.decode()
    assert "Needs information" in listing
    assert "Upload the back of the licence." in listing
    assert ">Respond<" in listing
    detail_url = reverse("experts:credential_detail", args=[submitted.pk])
    detail = client.get(detail_url).content.decode()
    assert "The reviewer needs more information" in detail
    assert "Upload the back of the licence." in detail
    assert "Your response to the reviewer" in detail

    # The claim and its documents are editable again.
    upload(client, submitted, ef.png_bytes(), "back.png")
    assert submitted.documents.count() == 2

    # Resubmitting needs an answer; without one nothing changes.
    response = client.post(reverse("experts:credential_submit", args=[submitted.pk]))
    assert response.status_code == 200
    assert "Tell the reviewer what you changed or answer their question." in (
        response.content.decode()
    )
    submitted.refresh_from_db()
    assert submitted.status == CredentialStatus.NEEDS_INFO

    response = client.post(
        reverse("experts:credential_submit", args=[submitted.pk]),
        {"response": "Added the back side as back.png."},
    )

    assert response.url == detail_url
    submitted.refresh_from_db()
    assert submitted.status == CredentialStatus.SUBMITTED
    assert submitted.expert_response == "Added the back side as back.png."
    assert submitted.reviewer is None
    detail = client.get(detail_url).content.decode()
    assert "Resubmitted for review." in detail
    assert "Added the back side as back.png." in detail


def test_rejected_credentials_show_the_reason_and_can_be_fixed(client):
    person = expert()
    reviewer, _ = staff_user()
    submitted = ef.credential(person, submit=True)
    services.credential_reject(
        staff=reviewer, credential_id=submitted.pk, reason="The document is illegible."
    )
    client.force_login(person)

    detail = client.get(reverse("experts:credential_detail", args=[submitted.pk]))

    page = detail.content.decode()
    assert "The reviewer did not accept this credential" in page
    assert "The document is illegible." in page
    assert "Edit the claim" in page


@pytest.mark.parametrize("who", ["other expert", "lab member", "staff", "anonymous"])
def test_other_people_get_404_for_a_credential(client, who):
    owner = expert()
    credential = ef.credential(owner)
    if who == "other expert":
        client.force_login(expert())
    elif who == "lab member":
        client.force_login(lab_user())
    elif who == "staff":
        client.force_login(staff_user()[0])
    before = (credential.title, credential.status, credential.documents.count())

    for name in ("credential_detail", "credential_edit"):
        assert client.get(reverse(f"experts:{name}", args=[credential.pk])).status_code == 404
    assert (
        client.post(
            reverse("experts:credential_edit", args=[credential.pk]), claim(title="Mine now")
        ).status_code
        == 404
    )
    assert (
        client.post(reverse("experts:credential_submit", args=[credential.pk])).status_code == 404
    )
    assert upload(client, credential).status_code == 404
    document = credential.documents.get()
    assert client.post(reverse("experts:document_remove", args=[document.pk])).status_code == 404

    credential.refresh_from_db()
    assert (credential.title, credential.status, credential.documents.count()) == before


def test_lists_and_create_are_for_experts_only(client):
    for name in ("credential_list", "credential_create"):
        assert client.get(reverse(f"experts:{name}")).status_code == 302  # log in first
    client.force_login(lab_user())
    for name in ("credential_list", "credential_create"):
        assert client.get(reverse(f"experts:{name}")).status_code == 404
    assert client.post(reverse("experts:credential_create"), claim()).status_code == 404
    assert not Credential.objects.exists()


def test_remove_a_document_while_editable(client):
    person = expert()
    draft = ef.credential(person)
    document = draft.documents.get()
    client.force_login(person)

    response = client.post(reverse("experts:document_remove", args=[document.pk]), follow=True)

    assert "Removed certificate.pdf." in messages_of(response)
    assert not draft.documents.exists()


def test_a_document_of_a_credential_in_review_cannot_be_removed(client):
    person = expert()
    submitted = ef.credential(person, submit=True)
    services.credential_start_review(staff=staff_user()[0], credential_id=submitted.pk)
    document = submitted.documents.get()
    client.force_login(person)

    response = client.post(reverse("experts:document_remove", args=[document.pk]), follow=True)

    assert "only be removed while the credential is editable" in messages_of(response)[0]
    assert submitted.documents.count() == 1


def test_the_credential_list_has_bounded_queries(client, django_assert_num_queries):
    person = expert()
    reviewer, _ = staff_user()
    ef.credential(person, title="MD")
    ef.credential(person, title="Board certified", submit=True)
    asked = ef.credential(person, title="Licence", submit=True)
    services.credential_request_info(staff=reviewer, credential_id=asked.pk, message="Back side?")
    ef.verified_credential(person, title="PhD", reviewer=reviewer, domains=[ef.domain("medicine")])
    services.credential_create(
        expert=person,
        data={"kind": "degree", "title": "BSc", "issuer": "Uni", "domains": [ef.domain()]},
    )
    client.force_login(person)
    client.get(reverse("experts:credential_list"))

    # session, user, credentials with document counts, their domains, unread count
    with django_assert_num_queries(5):
        page = client.get(reverse("experts:credential_list")).content.decode()

    for title in ("MD", "Board certified", "Licence", "PhD", "BSc"):
        assert f"<strong>{title}</strong>" in page
    assert page.count("badge status-draft") == 2
    assert "Back side?" in page
    assert "Medicine → Radiology" in page
    assert page.index("<strong>BSc</strong>") < page.index("<strong>MD</strong>")  # newest first


def test_the_credential_page_has_bounded_queries(client, django_assert_num_queries):
    person = expert()
    draft = ef.credential(person)
    for colour in ("red", "green", "blue"):
        services.document_add(
            expert=person, credential_id=draft.pk, name=f"{colour}.png", data=ef.png_bytes(colour)
        )
    client.force_login(person)
    url = reverse("experts:credential_detail", args=[draft.pk])
    client.get(url)

    # session, user, credential, domains with their fields, documents, unread count
    with django_assert_num_queries(6):
        page = client.get(url).content.decode()

    assert page.count('class="document"') == 4
