"""Shared fixtures, the real-service marks, and the rule that CI runs every test."""

from __future__ import annotations

import io
import os
import shutil

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

from marketplace.celery import app as celery_app

CHROMIUM = "/usr/bin/chromium"
PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can explain a failure at teardown."""
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


def phase_failed(item: pytest.Item) -> bool:
    """Whether the setup or the call phase of ``item`` failed (for use in teardown)."""
    return any(report.failed for report in item.stash.get(PHASE_REPORTS, {}).values())


@pytest.fixture(autouse=True)
def _isolated_environment(settings, tmp_path):
    """Run Celery tasks in-process, keep private files in the test's own folder (see
    ``storage``) and start every test with an empty cache.

    The integration tests that need a real worker switch eager mode off themselves.
    """
    celery_app.conf.task_always_eager = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
    }
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def storage(tmp_path):
    """The folder this test's private files (documents, task imports) are written to."""
    return tmp_path / "private"


@pytest.fixture
def seeded(settings) -> str:
    """Run ``seed_demo`` as ``make run`` does; return what it printed."""
    settings.DEBUG = True
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def require_services(*, postgres: bool = False, redis: bool = False, chromium: bool = False):
    """Fail, never skip, when a real service a test needs is missing: a skip would hide a
    missing install step. `make test` provides all of them; select around them locally with
    ``-m "not postgres and not celery and not e2e"``."""
    if postgres and connection.vendor != "postgresql":
        pytest.fail("needs PostgreSQL: set DATABASE_URL (make test does)")
    if redis and not os.environ.get("REDIS_URL"):
        pytest.fail("needs Redis and a Celery worker: set REDIS_URL (make test does)")
    if chromium and not shutil.which(CHROMIUM):
        pytest.fail(f"needs Chromium at {CHROMIUM} (make test installs it)")


@pytest.fixture(autouse=True)
def _real_services(request):
    marked = request.node.get_closest_marker
    require_services(
        postgres=marked("postgres") is not None,
        redis=marked("celery") is not None,
        chromium=marked("e2e") is not None,
    )


@pytest.fixture(autouse=True)
def _taxonomy(request):
    """Put back the migration-seeded taxonomy, which transactional tests flush away."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or "live_server" in (
        request.fixturenames
    )
    if marker is not None and (marker.kwargs.get("transaction") or marker.args[:1] == (True,)):
        transactional = True
    if transactional:
        request.getfixturevalue("transactional_db")
        from experts.models import Domain
        from experts.taxonomy import seed_taxonomy

        seed_taxonomy(Domain)


def pytest_sessionfinish(session, exitstatus):
    """With FAIL_ON_SKIP=1 (make test, CI) a skipped test fails the run."""
    if os.environ.get("FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(
            f"FAIL_ON_SKIP: {len(skipped)} test(s) were skipped; every test must run here.",
            red=True,
        )
        session.exitstatus = 1
