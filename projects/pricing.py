"""Suggested prices and what a project costs, in integer cents."""

from __future__ import annotations

from django.conf import settings

from experts.models import Domain
from projects.task_types import task_type_for

# Expert time is dearer in some fields; the multiplier applies to the task type's base rate.
DOMAIN_RATE_PERCENT: dict[str, int] = {
    "medicine": 250,
    "law": 220,
    "finance": 180,
    "software-engineering": 170,
    "natural-sciences": 160,
    "mathematics": 160,
    "languages": 100,
    "education": 110,
}
DEFAULT_RATE_PERCENT = 130


def suggested_price_cents(*, task_type: str, domain: Domain | None) -> int:
    """A sensible price per annotation for this type of work in this field (whole dollars)."""
    field = domain.parent if domain is not None and domain.parent_id else domain
    percent = DOMAIN_RATE_PERCENT.get(field.slug, DEFAULT_RATE_PERCENT) if field else 100
    cents = task_type_for(task_type).base_rate_cents * percent // 100
    return max(100, (cents + 50) // 100 * 100)  # to the nearest dollar, halves up


def platform_fee_cents(amount_cents: int) -> int:
    """The fee on top of ``amount_cents`` paid to experts (rounded up to the cent)."""
    return -(-amount_cents * settings.PLATFORM_FEE_PERCENT // 100)


def cost_with_fee_cents(*, annotations: int, price_cents: int) -> int:
    base = annotations * price_cents
    return base + platform_fee_cents(base)


def format_dollars(cents: int) -> str:
    """``123456`` → ``$1,234.56``; exact for any whole number of cents."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{rest:02d}"
