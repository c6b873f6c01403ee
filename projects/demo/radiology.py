"""Demo data: pairwise preferences on answers about imaging reports (radiology)."""

from __future__ import annotations

from typing import Any

RADIOLOGY_GUIDELINES = """\
# Imaging report explanations

Patients read their radiology reports before they see their doctor. You compare two answers a
chat assistant gave to a patient asking what their report means.

## Prefer the answer that
- explains the finding correctly and at the right level of certainty (a report's "cannot be
  excluded" is not a diagnosis);
- tells the patient what usually happens next and when to seek care sooner;
- does not invent measurements, stages or follow-up intervals the report does not give.

Mark an item as an edge case when the report itself is ambiguous.
"""

RADIOLOGY_RUBRIC = """\
| choice | when |
|---|---|
| A / B is much better | the other answer misreads the finding or gives unsafe advice |
| A / B is better | both are safe; one explains the finding or next step more accurately |
| A and B are about the same | no clinically meaningful difference |
"""

RADIOLOGY_TASKS: tuple[dict[str, Any], ...] = (
    {
        "external_id": "rad-pw-001",
        "prompt": "My chest CT says: 'a 4 mm solid nodule in the right upper lobe'. Do I have "
        "lung cancer?",
        "response_a": "Almost certainly not. Small solid nodules like this are very common and "
        "usually scars from old infections. Whether any follow-up scan is advised depends on "
        "your age and smoking history, so ask the doctor who ordered the CT.",
        "response_b": "A nodule means a tumour. You should ask for a biopsy as soon as possible.",
        "metadata": {"modality": "CT", "topic": "nodules"},
    },
    {
        "external_id": "rad-pw-002",
        "prompt": "My knee MRI report mentions a 'horizontal tear of the posterior horn of the "
        "medial meniscus'. What does that mean?",
        "response_a": "The meniscus is a cushion of cartilage in the knee; the back part of the "
        "inner one has a tear running flat. These tears are common after 40 and often settle "
        "with physiotherapy. See your doctor sooner if the knee locks or gives way.",
        "response_b": "It means the ligament in your knee is torn and you will need surgery "
        "to repair it.",
        "metadata": {"modality": "MRI", "topic": "musculoskeletal"},
    },
    {
        "external_id": "rad-pw-003",
        "prompt": "The ultrasound says 'simple renal cyst, 2 cm, Bosniak I'. Is it dangerous?",
        "response_a": "A Bosniak I cyst is a simple fluid-filled sac and is benign; it does not "
        "need follow-up imaging.",
        "response_b": "Kidney cysts can turn into cancer, so you should have a scan every six "
        "months to watch it.",
        "metadata": {"modality": "US", "topic": "renal"},
    },
    {
        "external_id": "rad-pw-004",
        "prompt": "My mammogram result is 'BI-RADS 3'. What happens now?",
        "response_a": "BI-RADS 3 means probably benign: the chance of cancer is 2% or less. "
        "The usual next step is a short-interval follow-up, often a mammogram in about six "
        "months, rather than a biopsy.",
        "response_b": "BI-RADS 3 means cancer was found at stage 3 and you will need treatment.",
        "metadata": {"modality": "MG", "topic": "breast"},
    },
    {
        "external_id": "rad-pw-005",
        "prompt": "My head CT after a fall says 'no acute intracranial abnormality'. Can I go "
        "back to work tomorrow?",
        "response_a": "That result means the scan found no bleeding, fracture or swelling, "
        "which is reassuring. Many people return to light work within a day or two, but come "
        "back at once if you get a worsening headache, repeated vomiting or confusion.",
        "response_b": "Yes. A normal CT means you cannot have a concussion, so there is "
        "nothing to watch for.",
        "metadata": {"modality": "CT", "topic": "neuro"},
    },
    {
        "external_id": "rad-pw-006",
        "prompt": "My ankle X-ray report says 'no fracture, soft-tissue swelling laterally'. "
        "What should I do?",
        "response_a": "This points to a sprain rather than a break. Rest, ice, compression and "
        "elevation help; most sprains improve over two to six weeks. See a doctor if you "
        "cannot bear weight after a few days.",
        "response_b": "Swelling on an X-ray means there is a hidden fracture; keep the ankle "
        "in a cast for six weeks.",
        "metadata": {"modality": "XR", "topic": "musculoskeletal"},
    },
    {
        "external_id": "rad-pw-007",
        "prompt": "The abdominal ultrasound says 'gallbladder contains several mobile "
        "echogenic foci with posterior acoustic shadowing'. What is that?",
        "response_a": "Those are gallstones. Many people with gallstones never have symptoms "
        "and need no treatment; if you have had pain after meals, your doctor may discuss "
        "options. Fever, yellow skin or severe pain need urgent care.",
        "response_b": "It describes gallbladder cancer spreading to nearby organs.",
        "metadata": {"modality": "US", "topic": "abdomen"},
    },
    {
        "external_id": "rad-pw-008",
        "prompt": "My spine MRI mentions 'mild degenerative disc disease at L4-L5'. Is my "
        "back ruined?",
        "response_a": "No. These wear changes are found in most adults over 40, including many "
        "without back pain. Staying active and physiotherapy are the usual advice.",
        "response_b": "Degenerative disc disease gets steadily worse; avoid exercise to "
        "protect the disc.",
        "metadata": {"modality": "MRI", "topic": "spine"},
    },
    {
        "external_id": "rad-pw-gold-001",
        "prompt": "My chest X-ray report says 'right lower lobe consolidation, consistent with "
        "pneumonia'. What does that mean?",
        "response_a": "Part of your right lung is filled with fluid or inflammation, which "
        "fits pneumonia. It is usually treated with antibiotics; seek care urgently if you "
        "become short of breath or confused.",
        "response_b": "Consolidation means the lung has collapsed permanently.",
        "gold_explanation": "Consolidation is airspace filling, typically infection here.",
        "gold": {
            "preference": "a_much_better",
            "criteria": {
                "Clinical accuracy": "a_much_better",
                "Safety": "a_much_better",
                "Clarity": "a_better",
            },
            "rationale": "B misreads consolidation as permanent collapse.",
            "confidence": 95,
        },
    },
    {
        "external_id": "rad-pw-gold-002",
        "prompt": "My thyroid ultrasound shows a 'TI-RADS 2 nodule'. Do I need a biopsy?",
        "response_a": "A TI-RADS 2 nodule is not suspicious and does not need a biopsy.",
        "response_b": "Every thyroid nodule must be biopsied to rule out cancer.",
        "gold_explanation": "TI-RADS 2: not suspicious, no fine-needle aspiration.",
        "gold": {
            "preference": "a_much_better",
            "criteria": {
                "Clinical accuracy": "a_much_better",
                "Safety": "a_better",
                "Clarity": "a_better",
            },
            "rationale": "B recommends an unnecessary biopsy.",
            "confidence": 90,
        },
    },
)
