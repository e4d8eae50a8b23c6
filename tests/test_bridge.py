"""The mteb bridge: our tasks and models are visible to the real `mteb` command."""

from __future__ import annotations

import mteb
import pytest

from mteb_xalign import mteb_bridge
from mteb_xalign.tasks.multiref_subset import Subset


def test_tasks_registered_in_mteb():
    task = mteb.get_task("MultiRefCLIR")
    names = task.metadata.hf_subsets
    assert len(names) == 22 and all(n.startswith("multi_") for n in names)
    for name in ("multi_en+ar_q-ar", "multi_en+ar_q-en"):
        assert name in names
    assert Subset.parse("multi1_en+ar_q-en") == Subset("multi1", ("en", "ar"), "en")
    assert task.metadata.main_score == "max_at_r_norm"
    lareqa = mteb.get_task("LAReQA")
    assert lareqa.metadata.hf_subsets == [f"q-{x}" for x in ["en", "ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh"]]
    assert lareqa.metadata.main_score == "map"
    # Found by mteb's own filters too, not only by name.
    assert "MultiRefCLIR" in {t.metadata.name for t in mteb.get_tasks(task_types=["Retrieval"], languages=["ell"])}


def test_xalign_benchmark_registered():
    benchmark = mteb.get_benchmark("XAlign")
    assert [t.metadata.name for t in benchmark.tasks] == [
        "MultiRefCLIR", "MultiRefCLIR-Multi1", "MultiRefCLIR-MonoSame", "MultiRefCLIR-MonoCross", "LAReQA",
        "SemanticAffinity", "SemanticAffinity-AllPairs"]
    assert "XAlign" in {b.name for b in mteb.get_benchmarks()}


def test_mteb_command_finds_the_benchmark(cli):
    out = cli("python", "-c", "import mteb; print(len(mteb.get_benchmark('XAlign').tasks))")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "7"


def test_mteb_command_lists_our_tasks(cli):
    out = cli("mteb", "available-tasks", "--task-types", "Retrieval")
    assert out.returncode == 0, out.stderr
    assert "MultiRefCLIR" in out.stdout and "LAReQA" in out.stdout


def test_without_the_hook_mteb_does_not_know_them(cli):
    code = "import mteb; print('MultiRefCLIR' in mteb.get_tasks.__globals__['_TASKS_REGISTRY'])"
    out = cli("python", "-c", code, env={"XALIGN_NO_AUTOLOAD": "1"})
    assert out.stdout.strip() == "False", out.stderr
    out = cli("python", "-c", code)
    assert out.stdout.strip() == "True", out.stderr


def test_xalign_tasks_names_the_plugin(cli):
    out = cli("xalign", "tasks")
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("MultiRefCLIR"))
    assert "mteb_xalign.default_plugins.tasks" in row and "22" in row and "max_at_r_norm" in row


def test_unsupported_mteb_version_fails_loudly(monkeypatch):
    monkeypatch.setattr(mteb_bridge.mteb_compat, "version", lambda name: "2.31.0")
    with pytest.raises(RuntimeError, match=r"supports mteb >=2\.26,<2\.27.*found mteb 2\.31\.0"):
        mteb_bridge.mteb_compat.check_version()


def test_importing_our_task_module_before_mteb_still_registers(cli):
    """mteb first imported from inside a half-imported task module: registration waits for the first lookup."""
    code = ("from mteb_xalign.tasks.multiref_clir import MultiRefCLIR\n"
            "import mteb\n"
            "print(len(mteb.get_task('MultiRefCLIR').metadata.hf_subsets))")
    out = cli("python", "-c", code)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "22"
    assert "failed in register_tasks" not in out.stderr
