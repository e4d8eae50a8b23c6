"""benchmarks/stats_bench.py (a `make bench` section) runs on the current code and prints its figures:
it once called a function the stats package had moved, and `make bench` stopped there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "stats_bench.py"


def test_stats_bench_prints_every_figure():
    done = subprocess.run([sys.executable, str(BENCH), "--resamples", "50"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    for key in ("stats_per_query_mb", "stats_intervals_s", "stats_compare_s", "stats_total_s"):
        assert float(figures[key]) >= 0, figures
    assert float(figures["stats_per_query_mb"]) < 5  # the size target, on the benchmark's shapes
