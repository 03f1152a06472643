"""Benchmarks: ``pytest bench`` (pytest-benchmark); ``--benchmark-disable`` runs each
case once as a plain test.  ``PYGD_BENCH_FULL=1`` uses the issue's full sizes."""

import os

FULL = os.environ.get("PYGD_BENCH_FULL", "") not in ("", "0")
