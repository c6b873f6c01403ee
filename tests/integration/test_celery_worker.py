"""A real Celery worker process sends notification e-mails queued on commit, and only those.

The worker is a separate process with its own queue, the test database and a file-based
e-mail backend, so these tests see exactly what production would: a task published to Redis
once the transaction commits, picked up by another process that reads the committed rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, transaction

from marketplace import services
from marketplace.celery import app as celery_app
from marketplace.models import Notification
from marketplace.tasks import send_notification_email
from tests.conftest import phase_failed, require_services
from tests.factories import expert

pytestmark = [pytest.mark.postgres, pytest.mark.celery]

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0
DELIVERY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    queue: str
    hostname: str
    mail_dir: Path
    log_path: Path

    def log(self, last_lines: int = 200) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-last_lines:])

    def mails(self) -> list[str]:
        """Every message the worker wrote (the file backend writes one file per connection)."""
        return [path.read_text(errors="replace") for path in sorted(self.mail_dir.iterdir())]

    def mails_containing(self, text: str) -> list[str]:
        return [mail for mail in self.mails() if text in mail]

    def assert_alive(self) -> None:
        code = self.process.poll()
        assert code is None, f"the Celery worker exited with {code}:\n{self.log()}"


def _database_url(settings_dict: dict) -> str:
    """A postgres:// URL for the database this test process uses (the test database)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(settings_dict.get("HOST") or "localhost", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def _wait_until(
    condition: Callable[[], bool], *, timeout: float, worker: Worker, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        worker.assert_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}.\n{worker.log()}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # warm shutdown
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, tmp_path_factory) -> Iterator[Worker]:
    """One worker process per module, consuming a queue no other worker or run shares."""
    require_services(postgres=True, redis=True)

    queue = f"test-{uuid.uuid4().hex}"
    base = tmp_path_factory.mktemp("celery-worker")
    mail_dir = base / "mail"
    mail_dir.mkdir()
    log_path = base / "worker.log"
    hostname = f"{queue}@localhost"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "DATABASE_URL": _database_url(connection.settings_dict),
        "REDIS_URL": os.environ["REDIS_URL"],
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        # Four slashes: django-environ drops the first character of the path.
        "EMAIL_URL": f"filemail:///{mail_dir}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_BROKER_URL", None)
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "marketplace",
        "worker",
        "--pool=solo",
        "--concurrency=1",
        "-Q",
        queue,
        "-n",
        hostname,
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    worker = Worker(process, queue, hostname, mail_dir, log_path)
    try:
        _wait_until(
            lambda: bool(celery_app.control.ping(destination=[hostname], timeout=1)),
            timeout=READY_TIMEOUT,
            worker=worker,
            what="the Celery worker to answer a ping",
        )
        yield worker
    finally:
        _stop(process)


@pytest.fixture
def worker(celery_worker: Worker, transactional_db, request) -> Iterator[Worker]:
    """Publish tasks for real (not eagerly), to the worker's queue; commit for real too."""
    celery_worker.assert_alive()
    conf = celery_app.conf
    saved = (conf.task_always_eager, conf.task_default_queue)
    conf.task_always_eager = False
    conf.task_default_queue = celery_worker.queue
    try:
        route = celery_app.amqp.router.route({}, send_notification_email.name)
        assert route["queue"].name == celery_worker.queue
        yield celery_worker
    finally:
        conf.task_always_eager, conf.task_default_queue = saved
        if phase_failed(request.node):
            print(f"---- Celery worker log ({celery_worker.log_path}) ----")  # noqa: T201
            print(celery_worker.log())  # noqa: T201


def _wait_for_email(worker: Worker, notification: Notification) -> None:
    def emailed() -> bool:
        notification.refresh_from_db()
        return notification.emailed_at is not None and bool(
            worker.mails_containing(notification.text)
        )

    _wait_until(
        emailed,
        timeout=DELIVERY_TIMEOUT,
        worker=worker,
        what=f"the worker to e-mail notification {notification.pk}",
    )


def test_a_committed_notification_is_emailed_by_the_worker(worker):
    user = expert(full_name="Ada Lovelace")
    text = f"Your credential was verified {uuid.uuid4().hex}"

    with transaction.atomic():
        notification = services.notification_create(
            recipient=user, kind="test.worker", text=text, link="/expert/"
        )

    _wait_for_email(worker, notification)

    [mail] = worker.mails_containing(text)
    assert f"To: {user.email}" in mail
    assert "Hello Ada," in mail
    assert "/expert/" in mail
    assert notification.emailed_at is not None


def test_a_rolled_back_notification_queues_nothing(worker):
    user = expert()
    token = uuid.uuid4().hex
    rolled_back = f"This never happened {token}"

    def notify_then_fail() -> None:
        with transaction.atomic():
            services.notification_create(recipient=user, kind="test.worker", text=rolled_back)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        notify_then_fail()

    assert not Notification.objects.filter(text=rolled_back).exists()

    # The worker takes tasks from its one queue in order, one at a time: once a notification
    # committed afterwards is e-mailed, anything the rolled-back one queued was handled too.
    sentinel = services.notification_create(
        recipient=user, kind="test.worker", text=f"Committed afterwards {token}"
    )
    _wait_for_email(worker, sentinel)

    assert not worker.mails_containing(rolled_back)
    assert Notification.objects.filter(recipient=user).count() == 1
