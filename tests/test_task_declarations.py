"""What the report and the model plugins read from a task is declared on its class (task_rules.TaskRules),
never in a table keyed by task name: `report_scenario`, `default_instruction`; a `--data` variant
(`from_folder`) inherits them, and never displaces the bundled task it was derived from."""

from __future__ import annotations

from pathlib import Path

import pytest

from mteb_xalign import mteb_compat
from mteb_xalign.report.results import ModelResults, TaskScores
from mteb_xalign.report.series import retrieval_tasks
from mteb_xalign.tasks import DATASETS
from mteb_xalign.tasks.bundled import benchmark_tasks, bundled_tasks
from mteb_xalign.tasks.multiref_clir import PASSAGES_INSTRUCTION, MultiRefCLIR
from mteb_xalign.tasks.semantic_affinity import WORDS_INSTRUCTION, SemanticAffinity


def _model(*task_names: str) -> ModelResults:
    tasks = {name: TaskScores(name, Path(f"{name}.json"), "test", {}, 0.5) for name in task_names}
    return ModelResults("org/m", "r1", Path("."), {}, tasks)


def test_a_declared_report_scenario_is_one_the_task_holds_and_each_comes_from_one_bundled_task():
    declared = {}
    for task in bundled_tasks():
        scenario = task.report_scenario
        if scenario is not None:
            assert scenario in task.scenarios, task.metadata.name
            assert scenario not in declared, (task.metadata.name, declared)
            declared[scenario] = task.metadata.name
    assert set(declared) == {"multi", "multi1", "monosame", "monocross"}


def test_every_benchmark_task_declares_its_default_instruction():
    assert all(task.default_instruction for task in benchmark_tasks())


@pytest.fixture
def variants(monkeypatch):
    """--data variants of MultiRefCLIR and SemanticAffinity, registered with mteb as `xalign run` does
    (and unregistered afterwards)."""
    multiref = MultiRefCLIR.from_folder(DATASETS / "xquad", "MyXQuAD")
    words = SemanticAffinity.from_folder(DATASETS / "swadesh207" / "swadesh207.jsonl", "MyWords")
    module = mteb_compat._tasks_module()
    monkeypatch.setattr(module, "TASK_LIST", module.TASK_LIST)
    for task in (multiref, words):
        monkeypatch.setitem(module._TASKS_REGISTRY, task.metadata.name, task)
        mteb_compat.add_task(task)
    return multiref, words


def test_a_data_variant_inherits_the_declarations(variants):
    multiref, words = variants
    assert multiref.report_scenario == "multi" and multiref.default_instruction == PASSAGES_INSTRUCTION
    assert words.report_scenario is None and words.default_instruction == WORDS_INSTRUCTION
    assert multiref.benchmarks == () and multiref.leaderboard_columns == ()  # these are not inherited


def test_the_report_reads_scenarios_from_the_tasks(variants):
    assert retrieval_tasks(_model("LAReQA", "MultiRefCLIR-PerQuestion", "MultiRefCLIR-MonoSame", "MultiRefCLIR")) \
        == {"MultiRefCLIR": "multi", "MultiRefCLIR-MonoSame": "monosame"}
    assert retrieval_tasks(_model("MyXQuAD", "MultiRefCLIR")) == {"MultiRefCLIR": "multi"}  # bundled first
    assert retrieval_tasks(_model("MyXQuAD")) == {"MyXQuAD": "multi"}
    assert retrieval_tasks(_model("NotRegisteredAnywhere")) == {}


def test_the_report_shows_affinity_scores_as_stored_by_declaration(variants):
    """SA and RA (0-1 or -1..1, three decimals) by their kind's declaration, so a --data SA task too;
    the retrieval tasks and tasks registered nowhere here x100."""
    from mteb_xalign.report.page import shown_as_is

    assert shown_as_is("SemanticAffinity") and shown_as_is("SemanticAffinity-Semanscope")
    assert shown_as_is("RelationalAffinity") and shown_as_is("MyWords")
    assert not shown_as_is("MultiRefCLIR") and not shown_as_is("MyXQuAD") and not shown_as_is("LAReQA")
    assert not shown_as_is("NotRegisteredAnywhere")
