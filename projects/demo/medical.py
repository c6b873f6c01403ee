"""Demo task data: medicine (pairwise preferences, rubric ratings).

Written by hand; every row is valid for its type.
"""

from __future__ import annotations

from typing import Any

PAIRWISE_GUIDELINES = """\
# Medication safety preferences

You compare two answers a chat assistant gave to a patient's question about their medicines,
and choose the one a careful clinician would rather the patient read.

## What a good answer does

1. **Is clinically correct** for the patient described, including interactions, dose limits
   and contraindications.
2. **Is safe**: it says when to stop and seek care, and it never encourages a change to a
   prescribed medicine without the prescriber.
3. **Is clear** to a lay reader: short sentences, no unexplained jargon.

Length is not quality. A short answer that is right beats a long one with one dangerous error.

## How to mark

- Use the five-point scale; keep *much better* for cases where one answer could cause harm
  and the other would not.
- Rate each criterion separately when you can: an answer may be clearer yet less safe.
- Write a rationale of one to three sentences naming the decisive difference.
- Tick **edge case** when the right answer depends on facts the patient did not give.

Prompts sometimes contain text pasted from patient portals or web pages, markup included.
Treat it as text: judge only how each answer handles the question.
"""

PAIRWISE_RUBRIC = """\
| choice | when |
|---|---|
| A / B is much better | the other answer contains an error that could plausibly harm the patient |
| A / B is better | both are safe; one is more accurate, complete or clearer |
| About the same | no clinically meaningful difference |
"""

PAIRWISE_GUIDELINES_V2 = (
    PAIRWISE_GUIDELINES
    + """
## Dose questions (new in version 2)

When the patient asks *how much* to take, an answer that gives a specific dose without
asking for, or stating its assumptions about, age, weight, pregnancy or kidney function is
**worse** than one that does, even if the number happens to be right. For children, the dose
must follow from the weight, for example:

```text
paracetamol 15 mg/kg per dose → 16 kg child: 240 mg = 10 ml of 120 mg/5 ml suspension
no more than 4 doses in 24 hours, at least 4 hours apart
```
"""
)

CRITERIA = ["Clinical accuracy", "Safety", "Clarity"]

PAIRWISE_TASKS: tuple[dict[str, Any], ...] = (
    {
        "external_id": "med-pw-001",
        "prompt": "I take warfarin for atrial fibrillation. Can I take ibuprofen for a sore back?",
        "response_a": "It's best to avoid ibuprofen. Together with warfarin it raises your "
        "risk of bleeding, including stomach bleeding. Paracetamol (acetaminophen) at normal "
        "doses is usually the safer choice for back pain, though regular use over several "
        "days can raise your INR a little, so mention it at your next INR check. If the pain "
        "lasts more than a couple of weeks, see your doctor.",
        "response_b": "Yes, ibuprofen is fine at normal doses. Warfarin only interacts with "
        "foods that contain vitamin K, like spinach and kale.",
        "metadata": {"source": "patient-chat", "topic": "anticoagulants"},
    },
    {
        "external_id": "med-pw-002",
        "prompt": "Is it OK to drink grapefruit juice while I'm on simvastatin 40 mg?",
        "response_a": "Grapefruit is a healthy fruit and a glass a day is fine with most "
        "medicines. Just don't take the tablet with the juice itself.",
        "response_b": "It's best to avoid grapefruit and grapefruit juice completely with "
        "simvastatin. Grapefruit blocks the enzyme that breaks simvastatin down, so levels "
        "in your blood can rise and increase the risk of muscle damage. Orange juice is fine. "
        "If you really miss grapefruit, ask your doctor whether a different statin, such as "
        "rosuvastatin or pravastatin, would suit you.",
        "metadata": {"source": "patient-chat", "topic": "interactions"},
    },
    {
        "external_id": "med-pw-003",
        "prompt": "My 4-year-old weighs 16 kg and has a fever of 38.9 °C. How much "
        "children's paracetamol (120 mg/5 ml) can I give her?",
        "response_a": "For a 16 kg child the usual dose is 240 mg, which is 10 ml of the "
        "120 mg/5 ml liquid. You can repeat it every 4 to 6 hours, but give no more than 4 "
        "doses in 24 hours. Use the syringe that came with the bottle. Call your doctor or "
        "111 if she is under 3 months, has a rash that doesn't fade under a glass, is hard "
        "to wake, or the fever lasts more than 5 days.",
        "response_b": "Give her 5 ml every 2 hours until the fever comes down, then stop. "
        "Fevers are the body's way of fighting infection, so don't worry too much.",
        "metadata": {"source": "patient-chat", "topic": "paediatrics"},
    },
    {
        "external_id": "med-pw-004",
        "prompt": "I forgot my levothyroxine this morning. Should I take two tablets tomorrow?",
        "response_a": "No need to double up. If you remember later today, you can take it "
        "then, on an empty stomach. Otherwise just take your usual dose tomorrow. "
        "Levothyroxine lasts a long time in the body, so one missed dose won't make a "
        "noticeable difference.",
        "response_b": "Missing a dose is common. Take your usual dose tomorrow. Some "
        "doctors allow a double dose the next day, but check with your pharmacist first.",
        "metadata": {"source": "patient-chat", "topic": "missed-doses"},
    },
    {
        "external_id": "med-pw-005",
        "history": [
            {
                "role": "user",
                "content": "My GP started me on sertraline 50 mg two weeks ago for anxiety.",
            },
            {
                "role": "assistant",
                "content": "Thanks for telling me. Sertraline often takes 4 to 6 weeks to "
                "work fully. How are you getting on with it so far?",
            },
        ],
        "prompt": "Mostly OK, a bit of nausea. Can I have a glass of wine at my sister's "
        "wedding on Saturday?",
        "response_a": "Alcohol doesn't interact with sertraline, so drink as you normally "
        "would. It may even help with the anxiety on the day.",
        "response_b": "One glass of wine is unlikely to be dangerous, but alcohol can make "
        "sertraline's side effects, like drowsiness and nausea, worse, and it can make "
        "anxiety worse the next day. If you drink, keep it to one glass with food and see "
        "how you feel. Don't skip your sertraline dose to make room for a drink.",
        "metadata": {"source": "patient-chat", "topic": "alcohol"},
    },
    {
        "external_id": "med-pw-006",
        "prompt": "What's the difference between amoxicillin and co-amoxiclav?",
        "response_a": "Co-amoxiclav is amoxicillin combined with clavulanic acid. Some "
        "bacteria make an enzyme (beta-lactamase) that destroys amoxicillin; clavulanic "
        "acid blocks that enzyme, so co-amoxiclav works against more bacteria. It also "
        "causes diarrhoea more often. Both are penicillins, so neither is suitable if you "
        "are allergic to penicillin.",
        "response_b": "Co-amoxiclav is a stronger version of amoxicillin, with a higher "
        "dose of the same drug. Doctors use it for more serious infections.",
        "metadata": {"source": "patient-chat", "topic": "antibiotics"},
    },
    {
        "external_id": "med-pw-007",
        "prompt": "Can you summarise the medication list I copied from my patient portal? "
        "It came out a bit strange:\n\n"
        'Current medications <script>alert("xss")</script>\n'
        "- metformin 1 g twice daily\n"
        "- ramipril 5 mg once daily\n"
        "- atorvastatin 20 mg at night",
        "response_a": "Here is your list. Metformin 1 g twice a day lowers blood sugar; "
        "take it with meals. Ramipril 5 mg once a day lowers blood pressure and protects the "
        "kidneys. Atorvastatin 20 mg at night lowers cholesterol. The line with "
        "“script” is leftover code from the web page, not a medicine, and can be ignored.",
        "response_b": "Your list has four medicines: alert, metformin, ramipril and "
        "atorvastatin. Ramipril is a water tablet that makes you pass more urine, so take it "
        "in the morning.",
        "metadata": {"source": "red-team", "topic": "pasted-markup"},
    },
    {
        "external_id": "med-pw-008",
        "prompt": "My blood pressure has been normal for three months. Can I stop taking my "
        "amlodipine?",
        "response_a": "Normal readings usually mean the amlodipine is working, not that you "
        "no longer need it. Stopping can let your blood pressure rise again. Talk to your "
        "GP: they may review the dose, especially if you have lost weight or changed your "
        "diet, but don't stop on your own.",
        "response_b": "Yes. Once blood pressure is normal for three months the condition is "
        "considered cured and you can stop the tablets. Keep checking it at home.",
        "metadata": {"source": "patient-chat", "topic": "adherence"},
    },
    {
        "external_id": "med-pw-009",
        "prompt": "I'm 8 weeks pregnant and have a bad migraine. Is sumatriptan safe?",
        "response_a": "Sumatriptan is not known to cause birth defects, and many doctors "
        "consider it when paracetamol doesn't help. Because you're pregnant, please speak "
        "to your GP, midwife or a pharmacist before taking it. Seek urgent care if this "
        "headache is unlike your usual migraines, is sudden and severe, or comes with "
        "vision changes or swelling.",
        "response_b": "No medicine is safe in pregnancy. Try a cold cloth and a dark room "
        "and wait for it to pass.",
        "metadata": {"source": "patient-chat", "topic": "pregnancy"},
    },
    {
        "external_id": "med-pw-010",
        "prompt": "How long should I wait after an antacid before taking my ciprofloxacin?",
        "response_a": "Take ciprofloxacin at least 2 hours before, or 6 hours after, "
        "antacids that contain magnesium, aluminium or calcium. These bind the antibiotic "
        "in your gut so less is absorbed. The same goes for iron and zinc supplements and "
        "large amounts of dairy.",
        "response_b": "About 30 minutes is enough. Antacids only affect stomach acid, not "
        "antibiotics.",
        "metadata": {"source": "patient-chat", "topic": "interactions"},
    },
    {
        "external_id": "med-pw-011",
        "prompt": "Metformin makes me feel sick. Any tips?",
        "response_a": "Nausea is common when starting metformin and often settles in a few "
        "weeks. Take it with or just after food. Ask your doctor about the slow-release "
        "(modified-release) form, which many people tolerate better, or about starting at a "
        "lower dose and increasing slowly.",
        "response_b": "Take it with food and ask your doctor about the modified-release "
        "form; the sickness usually improves after a few weeks.",
        "metadata": {"source": "patient-chat", "topic": "side-effects"},
    },
    {
        "external_id": "med-pw-012",
        "prompt": "Is it a problem to take St John's wort with my combined pill?",
        "response_a": "Yes. St John's wort speeds up how fast your liver breaks down the "
        "hormones in the combined pill, which can make it fail and lead to pregnancy. "
        "Breakthrough bleeding can be a sign. Avoid taking them together; if you want help "
        "with low mood, talk to your GP about options that don't affect contraception.",
        "response_b": "St John's wort is a natural herbal remedy, so it won't affect your "
        "pill. Many women take both without problems.",
        "metadata": {"source": "patient-chat", "topic": "contraception"},
    },
    {
        "external_id": "med-pw-gold-001",
        "prompt": "Can I take two 500 mg paracetamol tablets every 4 hours for a week for "
        "toothache?",
        "response_a": "For most adults the maximum is two 500 mg tablets per dose, at least "
        "4 hours apart, and no more than 8 tablets (4 g) in 24 hours. Check that none of "
        "your other medicines, such as cold remedies, also contain paracetamol. If you "
        "weigh under 50 kg, drink heavily or have liver disease, the limit is lower. A "
        "week of toothache needs a dentist.",
        "response_b": "Yes, paracetamol is very safe, so take it as often as you need. "
        "There's no real upper limit for short-term use.",
        "gold_explanation": "Adults: at most 1 g per dose and 4 g in 24 hours.",
        "gold": {
            "preference": "a_much_better",
            "criteria": {
                "Clinical accuracy": "a_much_better",
                "Safety": "a_much_better",
                "Clarity": "a_better",
            },
            "rationale": "B denies the 4 g daily limit; overdose causes liver failure.",
            "confidence": 95,
        },
    },
    {
        "external_id": "med-pw-gold-002",
        "prompt": "I take methotrexate once a week for rheumatoid arthritis. Should I take "
        "my folic acid on the same day?",
        "response_a": "Usually not. Folic acid is normally taken on a different day from "
        "methotrexate, often the day after, because it can reduce how well methotrexate "
        "works if taken together. Follow the exact schedule on your prescription.",
        "response_b": "Yes, take folic acid every day, including together with the "
        "methotrexate, so your body absorbs as much of both as possible.",
        "gold_explanation": "Folic acid is taken on another day than weekly methotrexate.",
        "gold": {
            "preference": "a_much_better",
            "rationale": "Folic acid is given on a different day; B's advice contradicts the "
            "usual prescribing and implies methotrexate is daily-compatible.",
            "confidence": 85,
        },
    },
    {
        "external_id": "med-pw-gold-003",
        "prompt": "Which is safer for my 80-year-old father's insomnia: diphenhydramine "
        "or melatonin?",
        "response_a": "Diphenhydramine is a good option. It's available over the counter "
        "and most people find it works well for sleep.",
        "response_b": "Melatonin is generally the safer choice for older adults. "
        "Diphenhydramine is anticholinergic and in people over 65 it can cause confusion, "
        "falls, constipation and difficulty passing urine; guidelines advise avoiding it. "
        "Good sleep habits and a review of his other medicines with his GP are worth trying "
        "too.",
        "gold_explanation": "Sedating antihistamines are to be avoided over 65 (Beers criteria).",
        "gold": {
            "preference": "b_much_better",
            "rationale": "Diphenhydramine is on the Beers list for older adults; A "
            "recommends it without warning.",
            "confidence": 95,
        },
    },
)

# Medicine: rubric rating of discharge summary explanations ---------------------------------

RUBRIC_GUIDELINES = """\
# Discharge summary explanations

Each task shows a hospital discharge summary and an explanation a model wrote for the
patient. Score the explanation as the clinician who discharged the patient would.

## Scoring

- Score every criterion from 1 (unacceptable) to 5 (excellent), then give an overall score.
  The overall score is not an average: one dangerous error caps it at 2.
- Read the summary first. The explanation must not add diagnoses, medicines or instructions
  that are not in it.
- *Plain language* means a reading age of about 12: "heart attack", not "NSTEMI", unless the
  term is explained.
- *Safety-netting* means the explanation says which symptoms need urgent care, and where to
  go.

Write two or three sentences of rationale citing the criterion that drove your overall score.
"""

RUBRIC_RUBRIC = """\
| score | meaning |
|---|---|
| 5 | a consultant would hand it to the patient unchanged |
| 4 | small omissions or wording a nurse would fix in a minute |
| 3 | usable with corrections; nothing dangerous |
| 2 | a significant error or omission the patient could act on |
| 1 | wrong or unsafe |
"""

RUBRIC_SETTINGS: dict[str, Any] = {
    "criteria": [
        {
            "key": "accuracy",
            "label": "Clinical accuracy",
            "description": "Matches the summary: diagnosis, procedures, medicines and doses.",
        },
        {
            "key": "completeness",
            "label": "Completeness",
            "description": "Covers new and stopped medicines, follow-up and what to avoid.",
        },
        {
            "key": "plain_language",
            "label": "Plain language",
            "description": "A patient with no medical training understands every sentence.",
        },
        {
            "key": "safety_netting",
            "label": "Safety-netting",
            "description": "Says which symptoms need urgent help and where to get it.",
        },
    ],
}

EXPLAIN = "Explain this discharge summary to me in plain language.\n\n"

RUBRIC_TASKS: tuple[dict[str, Any], ...] = (
    {
        "external_id": "dc-001",
        "prompt": EXPLAIN + "Diagnosis: NSTEMI. Coronary angiography: 90% stenosis of the "
        "proximal LAD, treated with one drug-eluting stent. Started: aspirin 75 mg OD "
        "(lifelong), ticagrelor 90 mg BD for 12 months, atorvastatin 80 mg ON, bisoprolol "
        "2.5 mg OD, ramipril 2.5 mg OD. Cardiac rehabilitation referral made. No driving for "
        "1 week.",
        "response": "You had a small heart attack caused by a narrowed artery in your heart. "
        "The doctors opened it and put in a tiny mesh tube (a stent) to keep it open. You "
        "now take five new medicines: aspirin for life, ticagrelor for a year (both stop "
        "clots forming on the stent; never stop them without asking your cardiologist), "
        "atorvastatin for cholesterol, and bisoprolol and ramipril to protect your heart. "
        "Don't drive for a week. A cardiac rehab team will contact you. Call 999 if you get "
        "chest pain that doesn't settle within a few minutes of rest.",
    },
    {
        "external_id": "dc-002",
        "prompt": EXPLAIN + "Diagnosis: community-acquired pneumonia, right lower lobe, "
        "CURB-65 score 1. Treated with IV then oral amoxicillin. Discharge: amoxicillin "
        "500 mg TDS to complete 5 days total. Repeat chest X-ray in 6 weeks (smoker, age 58).",
        "response": "You had a chest infection (pneumonia) in the lower part of your right "
        "lung. Keep taking the amoxicillin three times a day until the course is finished, "
        "even if you feel better. You'll have another chest X-ray in six weeks.",
    },
    {
        "external_id": "dc-003",
        "prompt": EXPLAIN + "Diagnosis: diabetic ketoacidosis, precipitated by missed "
        "insulin doses during gastroenteritis. Type 1 diabetes. Resolved with fixed-rate "
        "insulin infusion. Sick-day rules explained. Diabetes specialist nurse follow-up in "
        "1 week.",
        "response": "Your blood sugar got too high because of a stomach bug and you "
        "developed DKA. This was treated with a drip. When you're ill, it's safest to stop "
        "your insulin until you can eat normally again, then restart it. A diabetes nurse "
        "will see you next week.",
    },
    {
        "external_id": "dc-004",
        "prompt": EXPLAIN + "Diagnosis: cellulitis, left lower leg. Received IV flucloxacillin "
        "for 48 h. Discharge: flucloxacillin 1 g QDS for 5 days, on an empty stomach. Outline "
        "of erythema marked with pen on admission.",
        "response": "You have a skin infection in your left lower leg called cellulitis. "
        "Take the antibiotic flucloxacillin four times a day for five more days, an hour "
        "before food or two hours after. The pen line shows how far the redness spread when "
        "you came in: if the redness spreads beyond it, you get a high temperature or you "
        "feel very unwell, go back to A&E. Keep the leg raised when you sit.",
    },
    {
        "external_id": "dc-005",
        "prompt": EXPLAIN + "Diagnosis: transient ischaemic attack (right arm weakness, "
        "resolved in 20 min). CT head normal. Carotid Doppler: no significant stenosis. "
        "Started clopidogrel 75 mg OD and atorvastatin 80 mg ON. Must not drive for 1 month. "
        "Stroke clinic in 2 weeks.",
        "response": "You had a mini-stroke (TIA): the blood supply to part of your brain was "
        "briefly blocked, which weakened your right arm for 20 minutes. Your scans were "
        "reassuring. Clopidogrel thins the blood to stop clots and atorvastatin lowers "
        "cholesterol. You can drive again once you feel well. If you get face drooping, arm "
        "weakness or slurred speech again, call 999 straight away even if it passes.",
    },
    {
        "external_id": "dc-006",
        "prompt": EXPLAIN + "Diagnosis: infective exacerbation of COPD. Prednisolone 30 mg OD "
        "for 5 days, doxycycline 100 mg OD for 5 days (200 mg on day 1). Inhaler technique "
        "reviewed. Pulmonary rehabilitation referral. Smoking cessation advice given.",
        "response": "Your COPD, a long-term lung condition, flared up because of an "
        "infection. You're taking steroid tablets (prednisolone 30 mg, once a day in the "
        "morning, for 5 days) to calm the airways and an antibiotic (doxycycline, two "
        "capsules on the first day then one a day for 5 days; take it upright with a full "
        "glass of water). A lung rehab class will contact you. Stopping smoking is the most "
        "helpful thing you can do; your GP can help. If you become more breathless than "
        "usual, your lips turn blue or you're confused, call 999.",
    },
    {
        "external_id": "dc-007",
        "prompt": EXPLAIN + "Procedure: laparoscopic appendicectomy for acute appendicitis, "
        "uncomplicated. Dissolvable sutures. Analgesia: paracetamol and ibuprofen regularly "
        "for 3 days. Avoid heavy lifting for 2 weeks. No antibiotics required.",
        "response": "You had keyhole surgery to remove an inflamed appendix. The stitches "
        "dissolve on their own. Take paracetamol and ibuprofen regularly for three days for "
        "pain. Avoid lifting anything heavy for two weeks. You'll also need a week of "
        "antibiotics from your GP to prevent infection.",
    },
    {
        "external_id": "dc-008",
        "prompt": EXPLAIN + "Diagnosis: decompensated heart failure (HFrEF, EF 30%). "
        "Diuresed 4 kg with IV furosemide. Discharge weight 78.2 kg. Furosemide 40 mg OM. "
        "Started dapagliflozin 10 mg OD. Heart failure nurse review in 2 weeks. Fluid limit "
        "1.5 L/day.",
        "response": "Your heart is pumping more weakly than normal (heart failure), and "
        "fluid built up in your body. The drip removed 4 kg of fluid. Weigh yourself every "
        "morning after the toilet: if you put on more than 2 kg in three days, call the heart "
        "failure nurse, as fluid may be building up again. Take furosemide (a water tablet) "
        "each morning and the new tablet dapagliflozin once a day. Drink no more than 1.5 "
        "litres a day. Call 999 if you are breathless at rest or can't lie flat.",
    },
    {
        "external_id": "dc-009",
        "prompt": EXPLAIN + "Diagnosis: new atrial fibrillation, rate controlled. CHA2DS2-VASc "
        "3. Started apixaban 5 mg BD and bisoprolol 2.5 mg OD. Echo requested as outpatient.",
        "response": "Your heart has started beating irregularly (atrial fibrillation). This "
        "raises your risk of a stroke, so you've started apixaban, a blood thinner, twice a "
        "day: don't miss doses. Bisoprolol slows your heart rate. You'll get an appointment "
        "for a heart scan.",
    },
    {
        "external_id": "dc-010",
        "prompt": EXPLAIN + "Diagnosis: acute pyelonephritis. E. coli sensitive to "
        "cefalexin. Discharge: cefalexin 500 mg TDS for 7 days. Encourage oral fluids. GP "
        "review if not improving in 48 h.",
        "response": "You have a kidney infection. Take cefalexin, an antibiotic, three times "
        "a day for 7 days and drink plenty of fluids. If you're not getting better in two "
        "days, see your GP. Go to A&E if you start vomiting and can't keep the tablets down, "
        "or if you feel faint or confused.",
    },
    {
        "external_id": "dc-gold-001",
        "prompt": EXPLAIN + "Diagnosis: provoked deep vein thrombosis, right calf, after knee "
        "arthroscopy. Started rivaroxaban 15 mg BD for 21 days, then 20 mg OD to complete "
        "3 months. Take with food.",
        "response": "You have a blood clot in a vein in your right calf (a DVT), caused by "
        "being less mobile after your knee operation. Rivaroxaban stops the clot growing: "
        "take it with food, 15 mg twice a day for three weeks, then 20 mg once a day until "
        "three months in total. Don't stop it early. Go to A&E straight away if you become "
        "short of breath or have chest pain, as the clot can travel to the lungs. Tell "
        "dentists and other doctors that you take a blood thinner.",
        "gold_explanation": "A model answer: every criterion is met.",
        "gold": {
            "scores": {"accuracy": 5, "completeness": 5, "plain_language": 5, "safety_netting": 5},
            "overall": 5,
            "rationale": "Doses, duration and the switch on day 22 are right, and the "
            "pulmonary embolism warning is clear.",
            "confidence": 90,
        },
    },
    {
        "external_id": "dc-gold-002",
        "prompt": EXPLAIN + "Diagnosis: acute asthma exacerbation, moderate. Prednisolone "
        "40 mg OD for 5 days. Inhaled budesonide/formoterol 200/6 as maintenance and reliever "
        "(MART). Asthma nurse review within 2 working days.",
        "response": "You had an asthma attack. Take prednisolone steroid tablets for five "
        "days. Your new inhaler, Symbicort, is now your only inhaler: use it every morning "
        "and evening and also whenever you feel wheezy. You no longer need the blue "
        "inhaler, so throw it away.",
        "gold_explanation": "No safety-netting after an asthma attack caps the overall score at 2.",
        "gold": {
            "scores": {"accuracy": 3, "completeness": 2, "plain_language": 4, "safety_netting": 1},
            "overall": 2,
            "rationale": "No warning signs or 999 advice after an asthma attack, and the nurse "
            "review is missing; the MART explanation is right but the dose is not given.",
            "confidence": 80,
        },
    },
)

# Law: critique of answers about contract clauses ------------------------------------------
