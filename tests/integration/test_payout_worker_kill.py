"""Killing the Celery worker in the middle of a payout batch pays every expert exactly once.

Real processes all the way: PostgreSQL, Redis, Celery workers started as separate process
groups against the test database, and Stripe's API served by the fake server (in a thread of
this process, reached by the workers over HTTP). The worker is SIGKILLed while transfers are in
flight; a new worker, the redelivered messages (acks late, reject on worker lost, a short
visibility timeout) and the lost-payout reconciler must finish the batch with one transfer per
expert and a ledger that balances.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, transaction

from marketplace.celery import app as celery_app
from marketplace.models import Organization, User
from payments.ledger import bonus_post, expert_account, ledger_verify, platform_account
from payments.models import Payout, PayoutAccount
from payments.payouts import payout_batch_create, payouts_requeue_lost, reconciliation_run
from payments.providers import provider
from payments.states import AccountKind, PayoutAccountStatus, PayoutBatchTrigger, PayoutStatus
from payments.tasks import send_payout
from tests.conftest import phase_failed, require_services
from tests.factories import expert, organization
from tests.payments.factories import fund_lab
from tests.payments.fake_stripe import FakeStripe

pytestmark = [pytest.mark.postgres, pytest.mark.celery]

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 60.0
PAID_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
# Short, so a message held by a killed worker comes back within the test; the payout task's
# time limit stays under it, as in production (7200 s against 120 s).
VISIBILITY_TIMEOUT = 10
TASK_TIME_LIMIT = 8
STRIPE_DELAY = 0.5
IN_FLIGHT_DELAY = 4.0
EXPERTS = 12


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    hostname: str
    log_path: Path

    def log(self, last_lines: int = 150) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-last_lines:])

    def assert_alive(self) -> None:
        code = self.process.poll()
        assert code is None, f"the Celery worker exited with {code}:\n{self.log()}"

    def kill(self) -> None:
        """SIGKILL the whole process group: the main process and its pool children, with no
        chance to acknowledge, reject or requeue anything."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()  # warm shutdown
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)


@dataclass
class Cluster:
    """Workers for one test, all consuming the test's own queue."""

    queue: str
    env: dict[str, str]
    base: Path
    workers: list[Worker] = field(default_factory=list)

    def start_worker(self) -> Worker:
        hostname = f"{self.queue}-{len(self.workers)}@localhost"
        log_path = self.base / f"worker-{len(self.workers)}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "marketplace",
            "worker",
            # Prefork: time limits are enforced, and two payouts are in flight at once.
            "--pool=prefork",
            "--concurrency=2",
            "-Q",
            self.queue,
            "-n",
            hostname,
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                command,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
            )
        worker = Worker(process, hostname, log_path)
        self.workers.append(worker)
        wait_until(
            lambda: bool(celery_app.control.ping(destination=[hostname], timeout=1)),
            timeout=READY_TIMEOUT,
            cluster=self,
            what="the Celery worker to answer a ping",
        )
        return worker

    def logs(self) -> str:
        return "\n".join(
            f"---- {worker.hostname} ({worker.log_path}) ----\n{worker.log()}"
            for worker in self.workers
        )


def wait_until(
    condition: Callable[[], bool], *, timeout: float, cluster: Cluster, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}.\n{cluster.logs()}")
        time.sleep(0.05)


def _database_url(settings_dict: dict) -> str:
    """A postgres:// URL for the database this test process uses (the test database)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(settings_dict.get("HOST") or "localhost", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


@pytest.fixture
def fake(settings) -> Iterator[FakeStripe]:
    """The fake Stripe API, and this process's settings pointing the stripe provider at it."""
    server = FakeStripe().start()
    settings.PAYMENTS_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_API_BASE = server.url
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cluster(transactional_db, fake, tmp_path, request) -> Iterator[Cluster]:
    """Workers on a queue of this test's own, against the test database and the fake Stripe;
    this process publishes to that queue for real (not eagerly)."""
    require_services(postgres=True, redis=True)
    queue = f"test-payouts-{uuid.uuid4().hex}"
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "DATABASE_URL": _database_url(connection.settings_dict),
        "REDIS_URL": os.environ["REDIS_URL"],
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        "PAYOUT_TASK_TIME_LIMIT": str(TASK_TIME_LIMIT),
        "PAYMENTS_PROVIDER": "stripe",
        "STRIPE_API_BASE": fake.url,
        "STRIPE_SECRET_KEY": "sk_test_fake",
        # Four slashes: django-environ drops the first character of the path.
        "EMAIL_URL": f"filemail:///{mail_dir}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_BROKER_URL", None)
    conf = celery_app.conf
    saved = (conf.task_always_eager, conf.task_default_queue)
    conf.task_always_eager = False
    conf.task_default_queue = queue
    running = Cluster(queue=queue, env=env, base=tmp_path)
    try:
        route = celery_app.amqp.router.route({}, send_payout.name)
        assert route["queue"].name == queue
        yield running
    finally:
        for worker in running.workers:
            worker.stop()
        conf.task_always_eager, conf.task_default_queue = saved
        with celery_app.connection_for_write() as conn:
            conn.default_channel.client.delete(queue)
        if phase_failed(request.node):
            print(running.logs())  # noqa: T201


# Setup -------------------------------------------------------------------------------------


def owed_experts(fake: FakeStripe, lab: Organization, count: int) -> dict[User, int]:
    """``count`` experts with onboarded Express accounts, each owed a different amount."""
    owed = {}
    for index in range(count):
        user = expert()
        account = provider().connected_account_create(user=user)
        fake.set_account(account.id, payouts_enabled=True, details_submitted=True)
        PayoutAccount.objects.create(
            user=user,
            provider="stripe",
            account_id=account.id,
            status=PayoutAccountStatus.ENABLED,
            payouts_enabled=True,
            details_submitted=True,
        )
        cents = 1_000 + 137 * index
        bonus_post(
            organization=lab,
            expert=user,
            amount_cents=cents,
            currency="USD",
            key=f"test-bonus:{user.pk}",
            memo="Thank you",
        )
        owed[user] = cents
    return owed


def paid_count() -> int:
    return Payout.objects.filter(status=PayoutStatus.PAID).count()


def assert_paid_exactly_once(fake: FakeStripe, owed: dict[User, int]) -> None:
    total = sum(owed.values())
    assert len(fake.transfers) == len(owed)
    by_destination = {t["destination"]: t for t in fake.transfers.values()}
    assert len(by_destination) == len(owed)  # one transfer per expert
    for user, cents in owed.items():
        payout = Payout.objects.get(expert=user)
        assert payout.status == PayoutStatus.PAID
        assert payout.amount_cents == cents
        transfer = by_destination[user.payout_account.account_id]
        assert transfer["id"] == payout.transfer_id
        assert (transfer["amount"], transfer["currency"]) == (cents, "usd")
        assert transfer["metadata"] == {"payout_id": str(payout.public_id)}
        assert expert_account(user=user, currency="USD").balance_cents == 0
    assert platform_account(kind=AccountKind.IN_TRANSIT, currency="USD").balance_cents == 0
    assert platform_account(kind=AccountKind.PAID_OUT, currency="USD").balance_cents == total
    assert ledger_verify() == []
    assert reconciliation_run().differences == []


# Tests -------------------------------------------------------------------------------------


def test_killing_the_worker_mid_batch_pays_every_expert_exactly_once(cluster, fake, settings):
    lab = organization(name="Helix Labs")
    fund_lab(lab, 1_000_000)
    owed = owed_experts(fake, lab, EXPERTS)
    first = cluster.start_worker()
    fake.set_delay(STRIPE_DELAY)  # every Stripe call takes a while: the batch takes seconds

    batch = payout_batch_create(trigger=PayoutBatchTrigger.SCHEDULE, actor=None)
    assert batch is not None
    assert batch.payout_count == EXPERTS

    wait_until(
        lambda: paid_count() >= 3, timeout=PAID_TIMEOUT, cluster=cluster, what="3 payouts paid"
    )
    # Kill it in the middle of a Stripe call: calls from now on hang for a while, and the
    # worker dies while one is waiting for its answer (its payout recorded as sending).
    fake.set_delay(IN_FLIGHT_DELAY)
    seen = len(fake.requests)
    wait_until(
        lambda: (
            len(fake.requests) > seen
            and Payout.objects.filter(status=PayoutStatus.SENDING).exists()
        ),
        timeout=PAID_TIMEOUT,
        cluster=cluster,
        what="a payout's Stripe call in flight",
    )
    first.kill()
    statuses = list(Payout.objects.values_list("status", flat=True))
    assert 0 < statuses.count(PayoutStatus.PAID) < EXPERTS, f"the kill came too late: {statuses}"
    in_flight = list(
        Payout.objects.filter(status=PayoutStatus.SENDING).values_list("pk", flat=True)
    )
    assert in_flight, statuses
    fake.set_delay(STRIPE_DELAY)

    cluster.start_worker()
    # The lost-payout reconciler too, as its beat entry would run it: payouts stuck sending
    # or pending are sent again (duplicates of redelivered messages are harmless).
    settings.PAYOUT_STALE_SECONDS = 1
    time.sleep(1.5)
    assert payouts_requeue_lost() > 0

    wait_until(
        lambda: paid_count() == EXPERTS,
        timeout=PAID_TIMEOUT,
        cluster=cluster,
        what="every payout to be paid",
    )
    assert_paid_exactly_once(fake, owed)
    # The payouts killed mid-call were attempted again: looked up, not paid a second time.
    assert all(
        attempts >= 2
        for attempts in Payout.objects.filter(pk__in=in_flight).values_list("attempts", flat=True)
    )
    # Some transfer requests were sent again (after the kill) and answered from the same
    # idempotency key or found by the lookup; none made a second transfer.
    posted_keys = fake.idempotency_keys("/v1/transfers")
    assert {key for key in posted_keys if key} == {
        payout.idempotency_key for payout in Payout.objects.all()
    }


def test_a_payout_whose_message_never_left_is_sent_by_the_reconciler(cluster, fake, settings):
    lab = organization(name="Helix Labs")
    fund_lab(lab, 1_000_000)
    owed = owed_experts(fake, lab, 3)
    cluster.start_worker()

    with transaction.atomic():
        batch = payout_batch_create(trigger=PayoutBatchTrigger.SCHEDULE, actor=None)
        # The process dies right after COMMIT, before its on-commit publishes run.
        connection.run_on_commit.clear()
    assert batch is not None

    time.sleep(2)  # the worker is idle: nothing reached the queue
    assert set(Payout.objects.values_list("status", flat=True)) == {PayoutStatus.PENDING}
    assert fake.transfers == {}

    settings.PAYOUT_STALE_SECONDS = 1
    assert payouts_requeue_lost() == 3

    wait_until(
        lambda: paid_count() == 3,
        timeout=PAID_TIMEOUT,
        cluster=cluster,
        what="the reconciler's payouts to be paid",
    )
    assert_paid_exactly_once(fake, owed)
    assert payouts_requeue_lost() == 0
