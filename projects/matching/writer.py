"""Save a run's invitations and their notifications in bulk.

PostgreSQL (the production path) gets COPY: a full run writes tens of thousands of rows,
and ``bulk_create`` spends most of its time preparing values in Python. Other databases
(SQLite, the embedded default) use ``bulk_create``. Either way the number of statements does
not grow with the rows.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Field, Model

from marketplace.models import Notification
from marketplace.services import notifications_create_bulk, notifications_email_queue
from projects.matching.models import ProjectInvitation


def _csv_value(value: Any) -> str:
    """One field in PostgreSQL's CSV COPY format: unquoted empty is NULL, so every other
    value is quoted."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "t" if value else "f"
    elif isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"))
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)  # noqa: S101 - concrete fields only
    return field


def _copy(model: type[Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    columns = [str(_field(model, name).column) for name in fields]
    buffer = io.StringIO()
    for row in rows:
        buffer.write(",".join(_csv_value(value) for value in row))
        buffer.write("\n")
    buffer.seek(0)
    quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {connection.ops.quote_name(model._meta.db_table)} ({quoted}) "
            "FROM STDIN WITH (FORMAT csv)",
            buffer,
        )


INVITATION_FIELDS = (
    "created_at",
    "updated_at",
    "public_id",
    "project",
    "expert",
    "run",
    "source",
    "invited_by",
    "status",
    "score",
    "components",
    "weekly_hours",
    "estimated_hours",
    "expires_at",
    "responded_at",
    "decline_reason",
    "decline_note",
)
NOTIFICATION_FIELDS = (
    "created_at",
    "updated_at",
    "recipient",
    "kind",
    "text",
    "link",
    "read_at",
    "send_email",
    "emailed_at",
)


def _attributes(instance: Model, fields: Sequence[str]) -> list[Any]:
    return [getattr(instance, _field(type(instance), name).attname) for name in fields]


def invitations_save(
    invitations: list[ProjectInvitation], notifications: list[Notification], *, now: datetime
) -> None:
    """Insert the invitations and their notifications; queue the e-mails on commit. Call
    inside the run's transaction; every row's ``created_at`` is ``now``."""
    if connection.vendor != "postgresql":
        ProjectInvitation.objects.bulk_create(invitations, batch_size=2000)
        notifications_create_bulk(notifications)
        return
    for row in (*invitations, *notifications):
        row.created_at = row.updated_at = now
    _copy(
        ProjectInvitation,
        INVITATION_FIELDS,
        (_attributes(i, INVITATION_FIELDS) for i in invitations),
    )
    _copy(
        Notification,
        NOTIFICATION_FIELDS,
        (_attributes(n, NOTIFICATION_FIELDS) for n in notifications),
    )
    notifications_email_queue(
        list(
            Notification.objects.filter(
                kind__in={n.kind for n in notifications}, created_at=now, send_email=True
            ).values_list("pk", flat=True)
        )
    )
