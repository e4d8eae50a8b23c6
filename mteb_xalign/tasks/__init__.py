"""Task kinds (generic base classes that build a task from a folder) and the bundled tasks.

Kinds: multi_reference.MultiReferenceRetrieval, language_agnostic.LanguageAgnosticRetrieval,
word_affinity.SemanticAffinityTask (semanscope.MultiListAffinityTask: one word list per subset).
Bundled tasks, one literal class each: multiref_clir.py, lareqa.py, semantic_affinity.py,
semanscope.py (Semanscope's word lists), relational_affinity.py; bundled.py lists them and
builds the XAlign benchmark; variants.py finds a registered task by its options. This module
imports none of them (each imports DATASETS or BENCHMARK_NAME from here).
"""

from __future__ import annotations

from pathlib import Path

DATASETS = Path(__file__).resolve().parent.parent / "datasets"

#: The mteb Benchmark grouping the bundled tasks. Membership is opt-in: a task class lists the
#: benchmarks it belongs to (`benchmarks = (BENCHMARK_NAME,)`); MultiRefCLIR-PerQuestion, the
#: paper's protocol, is a variant for reproduction and does not.
BENCHMARK_NAME = "XAlign"
