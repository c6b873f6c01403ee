"""Save a run's offers as invitations, with a notification each.

PostgreSQL (the production path) gets COPY, with the rows formatted straight from the
offers: a full run writes tens of thousands of invitations, and building model instances for
``bulk_create`` costs more than the database's work. Other databases (SQLite, the embedded
default) use ``bulk_create``. Either way the number of statements does not grow with the rows.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import connection

from marketplace.models import Notification
from marketplace.services import notifications_create_bulk, notifications_email_queue
from projects.matching.models import MatchingRun, ProjectInvitation
from projects.models import Project
from projects.states import InvitationSource, InvitationStatus

INVITED = "matching.invited"


@dataclass(frozen=True)
class Offer:
    """A seat the run decided to offer: who, where, and why (the score breakdown)."""

    project: Project
    expert_id: int
    score: float
    components: dict[str, float]
    estimated_hours: int


def _uuid4s(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, made in one go."""
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    text = raw.tobytes().hex()
    return [
        f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        for h in (text[i : i + 32] for i in range(0, len(text), 32))
    ]


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _copy(table: str, columns: Sequence[str], lines: list[str]) -> None:
    buffer = io.StringIO("".join(lines))
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) "
            "FROM STDIN WITH (FORMAT csv)",
            buffer,
        )


def offers_save(
    offers: list[Offer],
    *,
    run: MatchingRun,
    now: datetime,
    expires_at: datetime,
    weekly_hours: int,
    texts: dict[int, str],
    link_for: Callable[[str], str],
) -> None:
    """Insert an invitation and a notification per offer; queue the e-mails on commit.

    Call inside the run's transaction. ``texts`` holds the notification text per project;
    ``link_for`` gives the expert's link to an invitation from its id.
    """
    public_ids = _uuid4s(len(offers))
    if connection.vendor != "postgresql":
        invitations = ProjectInvitation.objects.bulk_create(
            [
                ProjectInvitation(
                    public_id=uuid.UUID(public_id),
                    project=offer.project,
                    expert_id=offer.expert_id,
                    run=run,
                    source=InvitationSource.MATCHING,
                    score=offer.score,
                    components=offer.components,
                    weekly_hours=weekly_hours,
                    estimated_hours=offer.estimated_hours,
                    expires_at=expires_at,
                    created_at=now,
                )
                for offer, public_id in zip(offers, public_ids, strict=True)
            ],
            batch_size=2000,
        )
        notifications_create_bulk(
            [
                Notification(
                    recipient_id=invitation.expert_id,
                    kind=INVITED,
                    text=texts[invitation.project_id],
                    link=link_for(str(invitation.public_id)),
                    created_at=now,
                )
                for invitation in invitations
            ]
        )
        return
    stamp, expiry = _quoted(now.isoformat()), _quoted(expires_at.isoformat())
    fixed = f'{run.pk},"{InvitationSource.MATCHING}",,"{InvitationStatus.PENDING}"'
    _copy(
        ProjectInvitation._meta.db_table,
        [
            "created_at",
            "updated_at",
            "public_id",
            "project_id",
            "expert_id",
            "run_id",
            "source",
            "invited_by_id",
            "status",
            "score",
            "components",
            "weekly_hours",
            "estimated_hours",
            "expires_at",
            "responded_at",
            "decline_reason",
            "decline_note",
        ],
        [
            f"{stamp},{stamp},{public_id},{offer.project.pk},{offer.expert_id},{fixed},"
            f"{offer.score!r},{_quoted(json.dumps(offer.components))},{weekly_hours},"
            f'{offer.estimated_hours},{expiry},,"",""\n'
            for offer, public_id in zip(offers, public_ids, strict=True)
        ],
    )
    quoted_texts = {project_id: _quoted(text) for project_id, text in texts.items()}
    _copy(
        Notification._meta.db_table,
        [
            "created_at",
            "updated_at",
            "recipient_id",
            "kind",
            "text",
            "link",
            "read_at",
            "send_email",
            "emailed_at",
        ],
        [
            f"{stamp},{stamp},{offer.expert_id},{_quoted(INVITED)},"
            f"{quoted_texts[offer.project.pk]},"
            f"{_quoted(link_for(public_id))},,t,\n"
            for offer, public_id in zip(offers, public_ids, strict=True)
        ],
    )
    notifications_email_queue(
        list(
            Notification.objects.filter(kind=INVITED, created_at=now, send_email=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    )
