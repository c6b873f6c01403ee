"""The seeded expertise taxonomy: fields and their specialties. Staff extend it in the admin."""

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
