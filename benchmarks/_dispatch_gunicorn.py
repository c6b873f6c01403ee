"""gunicorn config for benchmarks/dispatch.py --profile: each worker runs under cProfile and
counts its SQL statements and their time per kind of request (next / submit), then writes
both to BENCH_PROFILE_DIR when it exits. Use with sync workers (one thread per worker).

The first WARMUP_REQUESTS requests of each worker (imports, URLconf, first connection) are
neither profiled nor counted."""

from __future__ import annotations

import cProfile
import json
import os
import time
from typing import Any

_profile = cProfile.Profile()
_requests: dict[str, dict[str, float]] = {}
WARMUP_REQUESTS = 5
_seen = 0


def _kind(path: str) -> str:
    if path.endswith("/next/"):
        return "next"
    if path.endswith("/submit/"):
        return "submit"
    return "other"


def post_fork(server: Any, worker: Any) -> None:
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    real_call = WSGIHandler.__call__

    def counted_call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        global _seen
        _seen += 1
        if _seen <= WARMUP_REQUESTS:
            if _seen == WARMUP_REQUESTS:
                _profile.enable()
            return real_call(self, environ, start_response)
        kind = _kind(environ.get("PATH_INFO", ""))
        row = _requests.setdefault(
            kind, {"requests": 0, "queries": 0, "sql_seconds": 0.0, "seconds": 0.0}
        )

        def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            begin = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                row["queries"] += 1
                row["sql_seconds"] += time.perf_counter() - begin

        begin = time.perf_counter()
        with connection.execute_wrapper(timed):
            response = real_call(self, environ, start_response)
        row["requests"] += 1
        row["seconds"] += time.perf_counter() - begin
        return response

    WSGIHandler.__call__ = counted_call  # type: ignore[method-assign]


def worker_exit(server: Any, worker: Any) -> None:
    _profile.disable()
    folder = os.environ.get("BENCH_PROFILE_DIR")
    if not folder:
        return
    _profile.dump_stats(os.path.join(folder, f"worker-{os.getpid()}.prof"))
    with open(os.path.join(folder, f"worker-{os.getpid()}.json"), "w") as out:
        json.dump(_requests, out)
