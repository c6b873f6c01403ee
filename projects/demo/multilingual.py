"""Demo task data: customer messages in Spanish, French and German (classification).

Written by hand; every row is valid for its type.
"""

from __future__ import annotations

from typing import Any

INTENTS = [
    "billing",
    "cancellation",
    "delivery",
    "technical_problem",
    "account_access",
    "complaint",
    "other",
]

CLASSIFICATION_GUIDELINES = """\
# Customer message intent (ES / FR / DE)

Each task is a message a customer of a European e-commerce and streaming company wrote to
support, in Spanish, French or German. Choose the **one** intent support should route it to.

| label | use for |
|---|---|
| `billing` | charges, refunds, invoices, payment methods |
| `cancellation` | ending a subscription or order, before it ships |
| `delivery` | where a parcel is, delays, wrong address, missing items |
| `technical_problem` | the app or the site does not work |
| `account_access` | log-in, password, two-factor codes, locked accounts |
| `complaint` | dissatisfaction with no concrete request |
| `other` | anything else |

When a message has several requests, choose the one the customer needs solved first (a
refund for a double charge beats a remark about the app). Read the message in its own
language; do not machine-translate it first. Sarcasm counts: "¡Genial, otra vez sin
paquete!" is about delivery.
"""

CLASSIFICATION_RUBRIC = """\
Gold tasks check the routing rules above; most disagreements come from `complaint` versus a
concrete request. If there is a concrete request, it wins.
"""

CLASSIFICATION_TASKS: tuple[dict[str, Any], ...] = (
    {
        "external_id": "intent-es-001",
        "text": "Hola, me habéis cobrado dos veces la suscripción de este mes. ¿Me podéis "
        "devolver uno de los cargos?",
        "metadata": {"language": "es", "channel": "email"},
    },
    {
        "external_id": "intent-es-002",
        "text": "El pedido 48213 aparece como entregado pero no he recibido nada y el "
        "portero tampoco.",
        "metadata": {"language": "es", "channel": "chat"},
    },
    {
        "external_id": "intent-es-003",
        "text": "Quiero darme de baja. No uso la plataforma desde hace meses.",
        "metadata": {"language": "es", "channel": "email"},
    },
    {
        "external_id": "intent-es-004",
        "text": "No me llega el código de verificación por SMS y no puedo entrar en mi cuenta.",
        "metadata": {"language": "es", "channel": "chat"},
    },
    {
        "external_id": "intent-es-005",
        "text": "La aplicación se cierra sola cada vez que intento reproducir un episodio en "
        "la tele.",
        "metadata": {"language": "es", "channel": "app"},
    },
    {
        "external_id": "intent-fr-001",
        "text": "Bonjour, je n'arrive plus à me connecter depuis que j'ai changé de "
        "téléphone. Le mot de passe est refusé.",
        "metadata": {"language": "fr", "channel": "email"},
    },
    {
        "external_id": "intent-fr-002",
        "text": "Pourriez-vous m'envoyer la facture de ma commande du 3 mars ? J'en ai "
        "besoin pour ma note de frais.",
        "metadata": {"language": "fr", "channel": "email"},
    },
    {
        "external_id": "intent-fr-003",
        "text": "Franchement, votre service client est devenu lamentable. Trois semaines "
        "pour une réponse, ce n'est pas sérieux.",
        "metadata": {"language": "fr", "channel": "social"},
    },
    {
        "external_id": "intent-fr-004",
        "text": "Le colis est bloqué à Roissy depuis cinq jours. Quand sera-t-il livré ?",
        "metadata": {"language": "fr", "channel": "chat"},
    },
    {
        "external_id": "intent-fr-005",
        "text": "Est-ce que vous livrez aussi en Belgique et en Suisse ?",
        "metadata": {"language": "fr", "channel": "chat"},
    },
    {
        "external_id": "intent-de-001",
        "text": "Ich möchte mein Abo zum Monatsende kündigen. Bitte bestätigen Sie die "
        "Kündigung schriftlich.",
        "metadata": {"language": "de", "channel": "email"},
    },
    {
        "external_id": "intent-de-002",
        "text": "Seit dem letzten Update lädt die Seite im Browser nicht mehr, nur noch ein "
        "weißer Bildschirm.",
        "metadata": {"language": "de", "channel": "email"},
    },
    {
        "external_id": "intent-de-003",
        "text": "Mir wurden 12,99 € abgebucht, obwohl ich den Probemonat rechtzeitig beendet habe.",
        "metadata": {"language": "de", "channel": "chat"},
    },
    {
        "external_id": "intent-de-004",
        "text": "In meinem Paket fehlt das Ladekabel, das laut Beschreibung dabei sein sollte.",
        "metadata": {"language": "de", "channel": "email"},
    },
    {
        "external_id": "intent-de-005",
        "text": "Habt ihr eigentlich auch Gutscheine zum Verschenken?",
        "metadata": {"language": "de", "channel": "app"},
    },
    {
        "external_id": "intent-gold-es",
        "text": "¡Genial, otra vez sin paquete! Es la tercera vez que el repartidor dice que "
        "no había nadie en casa.",
        "metadata": {"language": "es", "channel": "social"},
        "gold_explanation": "Sarcastic, but about a missed delivery.",
        "gold": {"labels": ["delivery"], "confidence": 90},
    },
    {
        "external_id": "intent-gold-fr",
        "text": "Votre appli est nulle et en plus vous m'avez prélevé deux fois ce mois-ci. "
        "Je veux être remboursé.",
        "metadata": {"language": "fr", "channel": "email"},
        "gold_explanation": "A complaint with a concrete request: the refund (billing) wins.",
        "gold": {"labels": ["billing"], "confidence": 90},
    },
    {
        "external_id": "intent-gold-de",
        "text": "Mein Konto wurde gesperrt, nachdem ich dreimal das falsche Passwort "
        "eingegeben habe. Wie entsperre ich es?",
        "metadata": {"language": "de", "channel": "chat"},
        "gold_explanation": "A locked account after wrong passwords.",
        "gold": {"labels": ["account_access"], "confidence": 95},
    },
)
