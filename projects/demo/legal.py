"""Demo task data: law (critique of contract-clause answers).

Written by hand; every row is valid for its type.
"""

from __future__ import annotations

from typing import Any

CRITIQUE_GUIDELINES = """\
# Contract clause review

Each task is a question about a commercial contract clause and the answer a model gave.
Find every legal error in the answer.

## For each error

- **Quote** the exact words from the answer (copy and paste; the form checks the quote
  occurs in the answer).
- Choose a **severity**:
  - *critical*: relying on it could cost the client the dispute or expose them to unlimited
    liability;
  - *major*: wrong law or a misreading of the clause that a partner would send back;
  - *minor*: imprecise wording, a missing caveat.
- **Explain** in one or two sentences, with the rule or authority where you can.

Then write the **corrected answer** as you would send it to an in-house lawyer. Assume
English law unless the clause names another governing law. If the answer has no errors,
leave the list empty and say so in the correction.
"""

CRITIQUE_RUBRIC = """\
A good critique finds the error that matters most first. Quote the smallest span that
carries the error, not the whole paragraph.
"""

CRITIQUE_TASKS: tuple[dict[str, Any], ...] = (
    {
        "external_id": "law-cr-001",
        "prompt": "Our supplier's terms say: “The Supplier's total liability under this "
        "Agreement shall not exceed the fees paid in the 12 months preceding the claim.” "
        "Does this cap cover fraud?",
        "response": "Yes. The cap is drafted broadly and applies to all liability under the "
        "Agreement, including fraud. If the supplier defrauds you, you can recover at most "
        "12 months of fees. You should negotiate a higher cap.",
    },
    {
        "external_id": "law-cr-002",
        "prompt": "Clause 14.2: “Either party may terminate this Agreement for convenience "
        "on 90 days' written notice.” We sent notice by email. Is that valid?",
        "response": "Email always counts as written notice under English law, so your notice "
        "is valid and the agreement ends 90 days after you sent it.",
    },
    {
        "external_id": "law-cr-003",
        "prompt": "The licence renews automatically for successive one-year terms unless "
        "either party gives notice at least 60 days before the end of the current term. The "
        "term ends on 31 March. We sent notice on 15 February. Are we out?",
        "response": "No. 15 February is only 44 days before 31 March, so your notice is "
        "late and the licence renews for another year. Late notice is simply ignored, and "
        "you must pay for the new term.",
    },
    {
        "external_id": "law-cr-004",
        "prompt": "Our force majeure clause lists “acts of God, war, terrorism, riot, fire, "
        "flood and governmental action”. Can our distributor rely on it because a key "
        "supplier went insolvent?",
        "response": "Yes. Force majeure covers any event outside a party's control, and a "
        "supplier's insolvency is outside the distributor's control. The list is only "
        "illustrative and English courts read these clauses generously.",
    },
    {
        "external_id": "law-cr-005",
        "prompt": "The SaaS agreement says: “Neither party may assign this Agreement "
        "without the other party's prior written consent.” We are being acquired by share "
        "purchase. Do we need the customer's consent?",
        "response": "No. In a share purchase the contracting company does not change; only "
        "its shareholders do, so there is no assignment and no consent is needed, unless "
        "the agreement also has a change of control clause. Check for one before signing.",
    },
    {
        "external_id": "law-cr-006",
        "prompt": "A clause says late delivery costs the supplier £5,000 per day as "
        "liquidated damages. The supplier says it is an unenforceable penalty. Who is right?",
        "response": "The supplier. Under Dunlop v New Garage, any sum that is more than a "
        "genuine pre-estimate of loss is a penalty and void. Unless you can prove your daily "
        "loss is exactly £5,000, the clause fails.",
    },
    {
        "external_id": "law-cr-007",
        "prompt": "Our NDA says confidentiality obligations last “for the term of this "
        "Agreement”. The agreement ends next month. Can the other side then use our "
        "information?",
        "response": "Under the wording, the contractual duty ends with the agreement, so "
        "after that they can use and disclose your information freely and you have no "
        "remedy of any kind.",
    },
    {
        "external_id": "law-cr-008",
        "prompt": "Our consultancy agreement is silent on intellectual property. Who owns "
        "the software the consultant wrote for us?",
        "response": "You do. Anything created for a client under a paid contract belongs to "
        "the client automatically, the same as with employees.",
    },
    {
        "external_id": "law-cr-009",
        "prompt": "Does “best endeavours” in our distribution agreement oblige the "
        "distributor to do more than “reasonable endeavours” would?",
        "response": "Yes. Best endeavours is the more onerous obligation: the distributor must "
        "take all reasonable steps to achieve the aim, and may have to act against its own "
        "commercial interests to some extent. Reasonable endeavours usually requires one "
        "reasonable course of action and allows the party to balance its own interests.",
    },
    {
        "external_id": "law-cr-gold-001",
        "prompt": "Governing law clause: “This Agreement is governed by the laws of New "
        "York.” Jurisdiction clause: none. The customer is in London. Where can we sue?",
        "response": "Because the agreement is governed by New York law, you must sue in "
        "the New York courts. English courts cannot hear a dispute under a foreign "
        "governing law.",
        "gold_explanation": "Governing law and jurisdiction are different questions.",
        "gold": {
            "errors": [
                {
                    "quote": "you must sue in the New York courts",
                    "severity": "critical",
                    "explanation": "Governing law and jurisdiction are separate: with no "
                    "jurisdiction clause, the courts with jurisdiction under the ordinary "
                    "rules (e.g. where the defendant is domiciled) may hear the claim.",
                },
                {
                    "quote": "English courts cannot hear a dispute under a foreign governing law.",
                    "severity": "major",
                    "explanation": "English courts routinely apply foreign law, proved as a "
                    "fact by expert evidence.",
                },
            ],
            "corrected_response": "Governing law does not fix the forum. With no jurisdiction "
            "clause you can usually sue the customer where it is domiciled, here in "
            "England, and the English court will apply New York law, proved by expert "
            "evidence. Consider adding an exclusive jurisdiction clause.",
            "confidence": 90,
        },
    },
    {
        "external_id": "law-cr-gold-002",
        "prompt": "An employee's contract has a 12-month post-termination non-compete "
        "covering the whole of Europe. She was a junior account manager in Manchester. Is it "
        "enforceable in England?",
        "response": "Yes. Non-competes are enforceable in England as long as the employee "
        "signed the contract. Twelve months is the standard period, so a court will uphold "
        "it as written.",
        "gold_explanation": "Restraint of trade: legitimate interest and reasonable scope.",
        "gold": {
            "errors": [
                {
                    "quote": "Non-competes are enforceable in England as long as the employee "
                    "signed the contract.",
                    "severity": "critical",
                    "explanation": "Restrictive covenants are void as restraints of trade "
                    "unless they protect a legitimate interest and go no further than "
                    "reasonably necessary.",
                },
                {
                    "quote": "a court will uphold it as written",
                    "severity": "major",
                    "explanation": "Europe-wide scope for a junior local role is very likely "
                    "unreasonable; courts do not rewrite covenants and may only sever.",
                },
            ],
            "corrected_response": "Probably not. A non-compete is enforceable only if it "
            "protects a legitimate business interest (such as client connections or "
            "confidential information) and is no wider than reasonably necessary. A "
            "12-month, Europe-wide restriction on a junior Manchester account manager is "
            "very likely too wide and void.",
            "confidence": 85,
        },
    },
)

# Code: demonstrations of small Python functions -------------------------------------------
