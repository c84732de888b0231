"""pytest plugin for ``python -m annotate verify``: per-test outcomes as JSON, a time limit.

Loaded with ``-p annotate.verify_plugin`` in the runs `annotate.verify` starts.  It writes
``{node id: outcome}`` to the file named by ``SIPREF_VERIFY_OUT`` (outcomes ``passed``,
``failed``, ``skipped``, ``timeout``; collection failures as ``collect-error`` under the key
``"<collect> " + node id``) and stops any test that runs longer than
``SIPREF_VERIFY_TIMEOUT`` seconds (setup, call and teardown together) by raising in it, so
a hanging test becomes a ``timeout`` outcome, never a stuck run.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Generator
from typing import Any

import pytest

_RESULTS: dict[str, str] = {}


class VerifyTimeout(Exception):
    """Raised in a test that outlived the per-test time limit."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise VerifyTimeout(f"test exceeded {os.environ.get('SIPREF_VERIFY_TIMEOUT')} s")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator:
    limit = float(os.environ.get("SIPREF_VERIFY_TIMEOUT", "0") or 0)
    if limit <= 0:
        return (yield)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _RESULTS[f"<collect> {report.nodeid}"] = "collect-error"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    before = _RESULTS.get(report.nodeid)
    if report.failed:
        text = str(report.longrepr or "")
        _RESULTS[report.nodeid] = "timeout" if "VerifyTimeout" in text else "failed"
    elif report.skipped and before is None:
        _RESULTS[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed and before is None:
        _RESULTS[report.nodeid] = "passed"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    out = os.environ.get("SIPREF_VERIFY_OUT")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(_RESULTS, f)
