"""The seeded expertise taxonomy: fields and their specialties. Staff extend it in the admin."""

from typing import Any

from django.utils.text import slugify

TAXONOMY: dict[str, list[str]] = {
    "Medicine": [
        "Radiology",
        "Cardiology",
        "Pharmacology",
        "Oncology",
        "Emergency medicine",
        "Psychiatry",
        "Pediatrics",
        "Neurology",
    ],
    "Law": ["Contracts", "Intellectual property", "Tax", "Criminal", "Employment", "Privacy"],
    "Software engineering": [
        "Backend",
        "Frontend",
        "Security",
        "Machine learning",
        "Distributed systems",
        "Mobile",
    ],
    "Finance": ["Accounting", "Investment", "Risk", "Insurance"],
    "Natural sciences": ["Chemistry", "Physics", "Biology", "Earth sciences"],
    "Mathematics": ["Algebra", "Analysis", "Statistics", "Combinatorics"],
    "Languages": [
        "English",
        "Spanish",
        "French",
        "German",
        "Japanese",
        "Mandarin Chinese",
        "Arabic",
        "Hindi",
    ],
    "Education": ["Primary", "Secondary", "Higher education"],
    "Engineering": ["Mechanical", "Electrical", "Civil", "Chemical"],
}


def seed_taxonomy(domain_model: Any) -> None:
    """Create the fields and specialties that are missing (idempotent).

    Takes the model so the data migration can pass its historical version.
    """
    for field, specialties in TAXONOMY.items():
        parent, _ = domain_model.objects.get_or_create(
            parent=None, name=field, defaults={"slug": slugify(field)}
        )
        for specialty in specialties:
            domain_model.objects.get_or_create(
                parent=parent,
                name=specialty,
                defaults={"slug": f"{slugify(field)}-{slugify(specialty)}"},
            )
