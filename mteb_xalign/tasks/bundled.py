"""The bundled tasks (one literal class per file in this folder) and the XAlign benchmark made of those
that opt in (`benchmarks = (BENCHMARK_NAME,)`); the default plugin registers both."""

from __future__ import annotations

from mteb import Benchmark

from mteb_xalign.tasks import BENCHMARK_NAME
from mteb_xalign.tasks.lareqa import LAReQA
from mteb_xalign.tasks.multiref_clir import (
    MultiRefCLIR,
    MultiRefCLIRMonoCross,
    MultiRefCLIRMonoSame,
    MultiRefCLIRMulti1,
    MultiRefCLIRPerQuestion,
)
from mteb_xalign.tasks.relational_affinity import RelationalAffinity
from mteb_xalign.tasks.semanscope import SemanticAffinitySemanscope, SemanticAffinitySemanscopeRelations
from mteb_xalign.tasks.semantic_affinity import SemanticAffinity, SemanticAffinityAllPairs


def bundled_tasks() -> list[type]:
    """The bundled task classes, benchmark tasks first."""
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
    return Benchmark(
        name=BENCHMARK_NAME,
        tasks=[task() for task in benchmark_tasks()],
        description="Cross-lingual alignment of multilingual text embeddings: multi-reference retrieval on "
                    "XQuAD (Multi, Multi-1, Mono-Same, Mono-Cross), LAReQA on XQuAD-R, and Semantic Affinity "
                    "on Swadesh-207. Each task's score is the mean of its main score over its subsets.",
        reference="https://github.com/digital-duck/semanscope",
    )
