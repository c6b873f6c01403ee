"""Private credential documents: uploads judged by content, served only to owner and staff."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from experts import services
from experts.models import CredentialDocument
from tests.experts import factories as ef
from tests.factories import expert, lab_user, log_in_staff, organization, staff_user

pytestmark = pytest.mark.django_db

PRIVATE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store, private",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}


@pytest.fixture
def storage(tmp_path):
    """The test's own folder: documents are written under its ``private`` (see conftest)."""
    return tmp_path


def stored_files(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()]


def draft_of(person):
    return services.credential_create(
        expert=person,
        data={"kind": "degree", "title": "MD", "issuer": "Uni", "domains": [ef.domain()]},
    )


def post_file(client, credential, name: str, data: bytes, content_type: str = "application/pdf"):
    return client.post(
        reverse("experts:document_upload", args=[credential.pk]),
        {"file": SimpleUploadedFile(name, data, content_type=content_type)},
        follow=True,
    )


def post_raw_file(client, credential, name: str, data: bytes):
    """Upload with the file name exactly as given (the test client would strip folders)."""
    boundary = "----expert-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        reverse("experts:document_upload", args=[credential.pk]),
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# Uploads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type", "pages"),
    [
        ("diploma.pdf", ef.pdf_bytes(pages=2), "application/pdf", 2),
        ("licence.png", ef.png_bytes(), "image/png", 1),
        ("badge.jpeg", ef.jpeg_bytes(), "image/jpeg", 1),
    ],
)
def test_good_uploads_are_stored_privately(client, storage, name, data, content_type, pages):
    person = expert()
    draft = draft_of(person)
    client.force_login(person)

    response = post_file(client, draft, name, data, content_type="application/octet-stream")

    document = CredentialDocument.objects.get(credential=draft)
    stem = name.rsplit(".", 1)[0]
    assert messages_of(response) == [f"Uploaded {document.original_name}."]
    assert document.original_name.startswith(stem)
    assert (document.content_type, document.page_count) == (content_type, pages)
    assert document.uploaded_by == person
    files = stored_files(storage)
    assert len(files) == 1
    assert files[0].name == document.file.name.rsplit("/", 1)[1]
    assert stem not in document.file.name  # a server-generated name, not the upload's
    assert files[0].read_bytes()[:4] == data[:4]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("cv.pdf", b"<html><script>alert(1)</script></html>", "Upload a PDF, PNG or JPEG file."),
        ("archive.zip", b"PK\x03\x04" + b"\0" * 200, "Upload a PDF, PNG or JPEG file."),
        (
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "Upload a PDF, PNG or JPEG file.",
        ),
        ("fake.png", b"\x89PNG\r\n\x1a\n<html>not an image</html>", "This image is damaged"),
        ("empty.pdf", b"", "The file is empty."),
        ("../../../etc/cron.d/evil", b"<?php system($_GET['c']); ?>", "PDF, PNG or JPEG"),
        ("..\\..\\windows\\evil.pdf", b"MZ\x90\x00", "PDF, PNG or JPEG"),
    ],
)
def test_bad_uploads_are_refused_and_store_nothing(client, storage, name, data, message):
    person = expert()
    draft = draft_of(person)
    client.force_login(person)

    response = post_raw_file(client, draft, name, data)

    [shown] = messages_of(response)
    assert message in shown
    assert "was not uploaded" in shown
    assert not CredentialDocument.objects.exists()
    assert stored_files(storage) == []


def test_a_name_that_is_only_a_path_is_refused(client, storage):
    person = expert()
    draft = draft_of(person)
    client.force_login(person)

    response = post_raw_file(client, draft, "../..", ef.pdf_bytes())

    assert messages_of(response) == ["Choose a PDF, PNG or JPEG file to upload."]
    assert not CredentialDocument.objects.exists()
    assert stored_files(storage) == []


def test_a_path_traversal_name_never_reaches_the_file_system(client, storage):
    person = expert()
    draft = draft_of(person)
    client.force_login(person)

    response = post_raw_file(client, draft, "../../../../tmp/owned.pdf", ef.pdf_bytes())

    assert messages_of(response) == ["Uploaded owned.pdf."]

    document = CredentialDocument.objects.get()
    assert document.original_name == "owned.pdf"
    assert document.file.name.startswith("credential-documents/")
    assert "owned" not in document.file.name
    [written] = stored_files(storage)
    assert written.is_relative_to(storage / "private")


def test_an_oversized_upload_gets_the_limit_and_stores_nothing(client, storage):
    person = expert()
    draft = draft_of(person)
    client.force_login(person)
    twelve_mb = b"%PDF-1.7\n" + b"0" * (12 * 1_048_576)

    response = post_file(client, draft, "scan.pdf", twelve_mb)

    assert response.status_code == 200
    assert messages_of(response) == [
        "The file was not uploaded: it is larger than the 10 MB limit. Scan at a lower "
        "resolution or split it."
    ]
    assert not CredentialDocument.objects.exists()
    assert stored_files(storage) == []


def test_a_polyglot_png_is_reencoded(client, storage):
    person = expert()
    draft = draft_of(person)
    client.force_login(person)
    polyglot = ef.png_bytes() + b"<html><script>alert(document.cookie)</script></html>"

    post_file(client, draft, "photo.png", polyglot, content_type="text/html")

    document = CredentialDocument.objects.get()
    assert document.content_type == "image/png"
    [written] = stored_files(storage)
    assert written.read_bytes().startswith(b"\x89PNG")
    assert b"<script>" not in written.read_bytes()


def test_no_file_chosen(client, storage):
    person = expert()
    draft = draft_of(person)
    client.force_login(person)

    response = client.post(reverse("experts:document_upload", args=[draft.pk]), follow=True)

    assert messages_of(response) == ["Choose a PDF, PNG or JPEG file to upload."]
    assert not CredentialDocument.objects.exists()


# Downloads and page previews ---------------------------------------------------------------


def assert_private(response) -> None:
    for header, value in PRIVATE_HEADERS.items():
        assert response[header] == value, header


def test_the_owner_downloads_the_exact_bytes_as_an_attachment(client, storage):
    person = expert()
    pdf = ef.pdf_bytes(pages=2)
    credential = ef.credential(person, document=pdf)
    document = credential.documents.get()
    client.force_login(person)

    response = client.get(reverse("experts:document_download", args=[document.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="certificate.pdf"'
    assert response["Content-Length"] == str(len(pdf))
    assert_private(response)


def test_staff_with_a_second_factor_download_and_preview(client, storage):
    person = expert()
    png = ef.png_bytes("maroon")
    credential = ef.credential(person, document=png, submit=True)
    document = credential.documents.get()
    reviewer, secret = staff_user(with_totp=True)
    assert secret is not None
    log_in_staff(client, reviewer, secret)

    response = client.get(reverse("experts:document_download", args=[document.pk]))

    assert response.status_code == 200
    stored = b"".join(response.streaming_content)
    assert stored == document.file.open("rb").read()
    assert stored.startswith(b"\x89PNG")
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="certificate.png"'
    assert_private(response)

    preview = client.get(reverse("experts:document_page", args=[document.pk, 0]))
    assert preview.status_code == 200
    assert preview["Content-Type"] == "image/png"
    assert preview["Content-Disposition"] == 'inline; filename="page-1.png"'
    assert preview.content.startswith(b"\x89PNG")
    assert_private(preview)


def test_staff_without_a_second_factor_in_this_session_get_404(client, storage):
    credential = ef.credential(expert())
    document = credential.documents.get()
    reviewer, _ = staff_user(with_totp=True)
    client.force_login(reviewer)  # no TOTP code entered in this session

    assert client.get(reverse("experts:document_download", args=[document.pk])).status_code == 404
    assert client.get(reverse("experts:document_page", args=[document.pk, 0])).status_code == 404


def test_pdf_pages_render_as_png_and_missing_pages_are_404(client, storage):
    from PIL import Image

    person = expert()
    credential = ef.credential(person, document=ef.pdf_bytes(pages=2))
    document = credential.documents.get()
    client.force_login(person)

    for page in (0, 1):
        response = client.get(reverse("experts:document_page", args=[document.pk, page]))
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert_private(response)
        import io

        assert Image.open(io.BytesIO(response.content)).format == "PNG"
    assert client.get(reverse("experts:document_page", args=[document.pk, 2])).status_code == 404


@pytest.mark.parametrize("who", ["other expert", "lab member", "anonymous"])
def test_anyone_else_gets_404_for_documents_pages_and_the_credential(client, storage, who):
    credential = ef.credential(expert())
    document = credential.documents.get()
    if who == "other expert":
        client.force_login(expert())
    elif who == "lab member":
        member = lab_user()
        organization(owner=member)
        client.force_login(member)

    for url in (
        reverse("experts:document_download", args=[document.pk]),
        reverse("experts:document_page", args=[document.pk, 0]),
        reverse("experts:credential_detail", args=[credential.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Location" not in response  # no login redirect that would confirm it exists
    assert (
        client.get(reverse("experts:document_download", args=[document.pk + 1000])).status_code
        == 404
    )


def test_production_hands_the_file_to_the_web_server(client, storage, settings):
    settings.PRIVATE_FILES_X_ACCEL_PREFIX = "/protected-files/"
    person = expert()
    document = ef.credential(person).documents.get()
    client.force_login(person)

    response = client.get(reverse("experts:document_download", args=[document.pk]))

    assert response.status_code == 200
    assert response.content == b""
    assert response["X-Accel-Redirect"] == f"/protected-files/{document.file.name}"
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="certificate.pdf"'
    assert_private(response)


def test_odd_display_names_are_quoted_safely_in_the_header(client, storage):
    person = expert()
    draft = draft_of(person)
    client.force_login(person)
    post_file(client, draft, 'résumé "final"; x=.pdf', ef.pdf_bytes())
    document = CredentialDocument.objects.get()

    response = client.get(reverse("experts:document_download", args=[document.pk]))

    assert response["Content-Disposition"].startswith("attachment; filename*=utf-8''")
    assert "\n" not in response["Content-Disposition"]


def test_the_upload_handler_stops_reading_past_the_cap(rf, settings):
    from django.core.files.uploadhandler import StopUpload

    from marketplace.uploads import CappedUploadHandler

    settings.MAX_UPLOAD_SIZE = 100
    request = rf.post("/")
    handler = CappedUploadHandler(request)
    handler.new_file("file", "big.pdf", "application/pdf", 1000)

    assert handler.receive_data_chunk(b"x" * 60, 0) == b"x" * 60
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"x" * 60, 60)

    assert request.upload_too_large is True
