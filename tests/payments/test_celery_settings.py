"""The Celery settings money depends on: a payout message survives a dead worker, is never
handed to a second worker while the first still holds it, and every payments task is on the
beat schedule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from celery.schedules import crontab
from django.conf import settings

from marketplace.celery import app
from payments import tasks

REPO_ROOT = Path(__file__).resolve().parents[2]
PAYMENT_TASKS = (
    tasks.send_payout,
    tasks.run_payout_batch,
    tasks.requeue_lost_payouts,
    tasks.reconcile_payments,
    tasks.escalate_overdue_appeals,
)


def test_a_payout_task_is_acknowledged_late_and_requeued_when_its_worker_dies():
    assert tasks.send_payout.acks_late is True
    assert tasks.send_payout.reject_on_worker_lost is True
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    # One message at a time per worker process: a dead worker strands at most one payout.
    assert app.conf.worker_prefetch_multiplier == 1
    for task in PAYMENT_TASKS:
        assert task.acks_late is True, task.name


def test_payout_tasks_have_time_limits():
    assert tasks.send_payout.time_limit == settings.PAYOUT_TASK_TIME_LIMIT == 120
    assert tasks.send_payout.soft_time_limit == settings.PAYOUT_TASK_TIME_LIMIT - 10
    assert tasks.reconcile_payments.time_limit == 600
    assert tasks.reconcile_payments.soft_time_limit == 570
    assert app.conf.task_time_limit == 300
    assert app.conf.task_soft_time_limit == 240


def test_the_visibility_timeout_is_set_everywhere_and_outlasts_payout_tasks_and_retries():
    timeout = settings.CELERY_VISIBILITY_TIMEOUT
    assert timeout == 7200
    assert app.conf.broker_transport_options == {"visibility_timeout": timeout}
    assert app.conf.result_backend_transport_options == {"visibility_timeout": timeout}
    assert timeout > settings.PAYOUT_TASK_TIME_LIMIT
    assert timeout > app.conf.task_time_limit
    assert timeout > tasks.reconcile_payments.time_limit
    # A retry waits in Redis unacknowledged: its countdown must end before Redis gives up.
    assert timeout > settings.PAYOUT_RETRY_MAX_DELAY == 1800


def test_the_beat_schedule_runs_batches_requeues_lost_payouts_and_reconciles():
    schedule = app.conf.beat_schedule
    assert schedule["run-payout-batch"]["task"] == "payments.tasks.run_payout_batch"
    assert schedule["run-payout-batch"]["schedule"] == crontab(
        minute="0", hour="6", day_of_week="1"
    )
    assert settings.PAYOUT_SCHEDULE == "0 6 * * 1"
    assert schedule["requeue-lost-payouts"] == {
        "task": "payments.tasks.requeue_lost_payouts",
        "schedule": crontab(minute="*/5"),
    }
    assert schedule["reconcile-payments"] == {
        "task": "payments.tasks.reconcile_payments",
        "schedule": crontab(hour=3, minute=10),
    }
    assert schedule["escalate-overdue-appeals"]["task"] == (
        "payments.tasks.escalate_overdue_appeals"
    )
    # Every scheduled payments task exists under that name.
    for entry in schedule.values():
        if entry["task"].startswith("payments."):
            assert entry["task"] in app.tasks


def test_the_schedule_and_the_visibility_timeout_come_from_the_environment():
    script = (
        "import django, json; django.setup()\n"
        "from marketplace.celery import app\n"
        "entry = app.conf.beat_schedule['run-payout-batch']['schedule']\n"
        "print(json.dumps({'schedule': str(entry),"
        " 'broker': app.conf.broker_transport_options,"
        " 'backend': app.conf.result_backend_transport_options}))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "PAYOUT_SCHEDULE": "30 4 * * 5",
        "CELERY_VISIBILITY_TIMEOUT": "10800",
    }
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer == {
        "schedule": str(crontab(minute="30", hour="4", day_of_week="5")),
        "broker": {"visibility_timeout": 10800},
        "backend": {"visibility_timeout": 10800},
    }
