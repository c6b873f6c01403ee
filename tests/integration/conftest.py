"""Make each test's outcome visible to its fixtures, so teardown can explain a failure."""

from __future__ import annotations

import pytest

PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


def phase_failed(item: pytest.Item) -> bool:
    """Whether the setup or the call phase of ``item`` failed (for use in teardown)."""
    reports = item.stash.get(PHASE_REPORTS, {})
    return any(report.failed for report in reports.values())
