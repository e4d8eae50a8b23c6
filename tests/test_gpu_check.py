"""benchmarks/gpu_check.py in its CPU mode: every check's code path runs (small sizes), so the script a
GPU session runs in one call cannot rot unseen. The figures are the CPU's; only the paths are tested."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import gpu_check  # noqa: E402


@pytest.fixture(autouse=True)
def _environment_restored(monkeypatch):
    """The benchmark scripts set XALIGN_QUIET for their own process; called in this one, that must not
    outlive the test (it silenced the progress tests' subprocesses). monkeypatch restores it."""
    monkeypatch.setenv("XALIGN_QUIET", "1")



def test_cpu_mode_runs_every_check_and_writes_its_log(tmp_path, monkeypatch, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA machine: run `make gpu-check` there instead (it takes minutes)")
    monkeypatch.setenv("OUT", str(tmp_path))
    rc = gpu_check.main(["--texts", "6", "--rank-docs", "3000"])
    # the trainer prints its own lines too: the figures are the `name=value` ones
    lines = [line for line in capsys.readouterr().out.splitlines() if re.match(r"[a-z0-9_]+=", line)]
    figures = dict(line.split("=", 1) for line in lines)
    assert rc == 0, [line for line in lines if "_error=" in line]
    assert figures["gpu"] == "absent" and figures["device_resolved"] == "cpu" and figures["device_ok"] == "1"
    assert figures["bf16_ok"] == "1" and float(figures["bf16_max_1_minus_cos"]) <= gpu_check.BF16_TOLERANCE
    assert float(figures["bf16_max_1_minus_cos"]) > 0  # bf16 really ran: not the fp32 vectors twice
    assert figures["rank_backend"] == "torch-cpu" and figures["rank_equal"] == "1"
    assert figures["align_train_finite"] == "1" and float(figures["align_train_max_weight_change"]) > 0
    assert figures["gpu_check_ok"] == "1"
    assert (tmp_path / "gpu_check.log").read_text().splitlines() == lines  # the log is what was printed


def test_a_failing_check_is_reported_and_fails_the_script(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("the ranking differs")

    monkeypatch.setattr(gpu_check, "check_ranking", broken)
    monkeypatch.setattr(gpu_check, "check_bf16", lambda *a, **k: None)
    monkeypatch.setattr(gpu_check, "check_align_step", lambda *a, **k: None)
    rc = gpu_check.main(["--log", str(tmp_path / "log")])
    out = capsys.readouterr().out
    assert rc == 1
    assert "rank_error=RuntimeError: the ranking differs" in out and "gpu_check_ok=0" in out
