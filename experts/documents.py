"""Judge uploaded credential documents by their content, and render previews safely.

Only PDF, PNG and JPEG are accepted, recognised by their bytes (never the name or the
browser's content type). Images are decoded and re-encoded, which drops anything smuggled
after or between their chunks (PNG+HTML polyglots, metadata); PDFs must open in PDFium.
"""

from __future__ import annotations

import hashlib
import io
import os
import unicodedata
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from marketplace.errors import InvalidInput

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
SIGNATURES = ((b"%PDF-", PDF), (b"\x89PNG\r\n\x1a\n", PNG), (b"\xff\xd8\xff", JPEG))
EXTENSIONS = {PDF: ".pdf", PNG: ".png", JPEG: ".jpg"}
MAX_PIXELS = 40_000_000
MAX_PDF_PAGES = 200
# A page is at most A0-sized (2384 x 3370 points); previews are at most this many pixels wide.
MAX_PAGE_POINTS = 3400
PREVIEW_MAX_SIDE = 2000
PREVIEW_SCALE = 1.6
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class InspectedDocument:
    content: bytes
    content_type: str
    sha256: str
    size: int
    page_count: int
    original_name: str


def safe_display_name(name: str, content_type: str) -> str:
    """Keep a human-readable name: no folders, no control characters, the right extension."""
    base = os.path.basename(name.replace("\\", "/"))
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    stem = os.path.splitext(base)[0][:100] or "document"
    return f"{stem}{EXTENSIONS[content_type]}"


def sniff(head: bytes) -> str | None:
    return next((kind for magic, kind in SIGNATURES if head.startswith(magic)), None)


def inspect_upload(*, name: str, data: bytes) -> InspectedDocument:
    """Validate an upload's bytes and return what to store, or raise InvalidInput."""
    limit = settings.MAX_DOCUMENT_UPLOAD_SIZE
    if not data:
        raise InvalidInput("The file is empty.", field="file")
    if len(data) > limit:
        raise InvalidInput(
            f"The file is {len(data) / 1_048_576:.1f} MB; the limit is "
            f"{limit // 1_048_576} MB. Scan at a lower resolution or split it.",
            field="file",
        )
    content_type = sniff(data[:16])
    if content_type is None:
        raise InvalidInput(
            "Upload a PDF, PNG or JPEG file. This file is none of those, whatever its name says.",
            field="file",
        )
    sha256 = hashlib.sha256(data).hexdigest()
    if content_type == PDF:
        content, pages = data, _check_pdf(data)
    else:
        content, pages = _reencode_image(data, content_type), 1
    return InspectedDocument(
        content=content,
        content_type=content_type,
        sha256=sha256,
        size=len(content),
        page_count=pages,
        original_name=safe_display_name(name, content_type),
    )


def _check_pdf(data: bytes) -> int:
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        raise InvalidInput(
            "This PDF is damaged or encrypted and cannot be opened.", "file"
        ) from None
    try:
        pages = len(pdf)
        if pages > MAX_PDF_PAGES:
            raise InvalidInput(f"Keep a document under {MAX_PDF_PAGES} pages.", field="file")
        for index in range(pages):
            width, height = pdf.get_page_size(index)
            if max(width, height) > MAX_PAGE_POINTS:
                raise InvalidInput("A page of this PDF is larger than A0.", field="file")
    finally:
        pdf.close()
    if pages == 0:
        raise InvalidInput("This PDF has no pages.", field="file")
    return pages


def _reencode_image(data: bytes, content_type: str) -> bytes:
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it: make that a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe_image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInput("This image has too many pixels; scan at 300 dpi.", "file") from None
    except (UnidentifiedImageError, OSError):
        raise InvalidInput("This image is damaged or too large to read.", field="file") from None
    try:
        with probe_image as probe:
            # Refuse decompression bombs from the header, before decoding a single pixel.
            if probe.width * probe.height > MAX_PIXELS:
                raise InvalidInput("This image has too many pixels; scan at 300 dpi.", "file")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            out = io.BytesIO()
            if content_type == PNG:
                image.save(out, format="PNG", optimize=True)
            else:
                image.convert("RGB").save(out, format="JPEG", quality=90)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise InvalidInput("This image is damaged or too large to read.", field="file") from None
    return out.getvalue()


def render_page_png(*, data: bytes, content_type: str, page: int) -> bytes:
    """Render one page of a stored document as a PNG for the in-browser viewer.

    The viewer only ever shows images we produced, so nothing uploaded runs in our origin.
    """
    if content_type != PDF:
        return data if content_type == PNG else _to_png(data)
    import pypdfium2

    pdf = pypdfium2.PdfDocument(data)
    try:
        if not 0 <= page < len(pdf):
            raise InvalidInput("That page does not exist.", field="page")
        width, height = pdf.get_page_size(page)
        scale = min(PREVIEW_SCALE, PREVIEW_MAX_SIDE / max(width, height, 1))
        bitmap = pdf[page].render(scale=scale)
        out = io.BytesIO()
        bitmap.to_pil().save(out, format="PNG")
    finally:
        pdf.close()
    return out.getvalue()


def _to_png(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.save(out, format="PNG")
    return out.getvalue()
