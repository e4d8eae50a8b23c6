"""Task kinds (generic base classes that build a task from a folder) and the bundled tasks.

Kinds: multi_reference.MultiReferenceRetrieval, language_agnostic.LanguageAgnosticRetrieval,
word_affinity.SemanticAffinityTask (semanscope.MultiListAffinityTask: one word list per subset).
Bundled tasks, one literal class each: multiref_clir.py, lareqa.py, semantic_affinity.py,
semanscope.py (Semanscope's word lists), relational_affinity.py.
"""

from __future__ import annotations

from pathlib import Path

DATASETS = Path(__file__).resolve().parent.parent / "datasets"

#: The mteb Benchmark grouping the bundled tasks. Membership is opt-in: a task class lists the
#: benchmarks it belongs to (`benchmarks = (BENCHMARK_NAME,)`); MultiRefCLIR-PerQuestion, the
#: paper's protocol, is a variant for reproduction and does not.
BENCHMARK_NAME = "XAlign"


def variant_of(task_cls: type, **options) -> type | None:
    """The registered task that is `task_cls` with other option values (e.g. pool="per-question"):
    the same kind and data, every option as given, every other declared attribute equal; None if none."""
    from mteb_xalign import plugins

    kind = task_cls.__mro__[1]
    same = ("data_folder", "data_path", "sentences_folder", "questions_folder", "scenarios", "all_pairs",
            "languages", "pivot", "pool")
    for _, other in plugins.get_tasks():
        if other.__mro__[1] is not kind or other is task_cls:
            continue
        if all(getattr(other, key, None) == value for key, value in options.items()) and all(
                getattr(other, key, None) == getattr(task_cls, key, None) for key in same if key not in options):
            return other
    return None


def bundled_tasks() -> list[type]:
    """The bundled task classes, benchmark tasks first."""
    from mteb_xalign.tasks.lareqa import LAReQA
    from mteb_xalign.tasks.multiref_clir import (
        MultiRefCLIR,
        MultiRefCLIRMonoCross,
        MultiRefCLIRMonoSame,
        MultiRefCLIRMulti1,
        MultiRefCLIRPerQuestion,
    )
    from mteb_xalign.tasks.relational_affinity import RelationalAffinity
    from mteb_xalign.tasks.semantic_affinity import SemanticAffinity, SemanticAffinityAllPairs
    from mteb_xalign.tasks.semanscope import SemanticAffinitySemanscope, SemanticAffinitySemanscopeRelations

    return [MultiRefCLIR, MultiRefCLIRMulti1, MultiRefCLIRMonoSame, MultiRefCLIRMonoCross, LAReQA,
            SemanticAffinity, SemanticAffinityAllPairs, MultiRefCLIRPerQuestion,
            SemanticAffinitySemanscope, SemanticAffinitySemanscopeRelations, RelationalAffinity]


def benchmark_tasks() -> list[type]:
    """The tasks of the XAlign benchmark: the bundled tasks that declare it. Semanscope's tasks
    (semanscope.py, relational_affinity.py) do not: their word lists are machine-translated, while
    XAlign's data are human translations; run them with -t."""
    return [task for task in bundled_tasks() if BENCHMARK_NAME in task.benchmarks]


def benchmark():
    """The mteb Benchmark `XAlign` (mteb_bridge registers it, so `mteb run -b XAlign` finds it)."""
    from mteb import Benchmark

    return Benchmark(
        name=BENCHMARK_NAME,
        tasks=[task() for task in benchmark_tasks()],
        description="Cross-lingual alignment of multilingual text embeddings: multi-reference retrieval on "
                    "XQuAD (Multi, Multi-1, Mono-Same, Mono-Cross), LAReQA on XQuAD-R, and Semantic Affinity "
                    "on Swadesh-207. Each task's score is the mean of its main score over its subsets.",
        reference="https://github.com/digital-duck/semanscope",
    )
