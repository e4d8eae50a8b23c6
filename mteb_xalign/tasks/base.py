"""What every xalign task kind shares: local data instead of the hub, one encoding pass, declared rules.

mteb's `AbsTask.evaluate` loads the data, then calls `_evaluate_subset` once per subset (and
saves the result file after each). Our `_evaluate_subset` encodes, on its first call for a
model, every text that the task's selected subsets need (one batched pass per role, through
the shared embedding cache), then scores each subset from those vectors: no text is sent to
the model twice, within a task or across tasks sharing a corpus.

`self.dataset[subset][split]` holds what that subset is made of (its queries, pool and gold
documents, or its languages), built when the data are read; mteb hands it to
`_evaluate_subset`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

from mteb.abstasks.abstask import AbsTask

from mteb_xalign import per_query
from mteb_xalign.per_query import SubsetOutcomes
from mteb_xalign.stats import intervals
from mteb_xalign.task_rules import Column, ScoreRule


def folder_revision(*paths: Path) -> str:
    """A content hash of data files: results name the exact data they were computed on."""
    h = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).is_dir() else [Path(path)]
        for file in files:
            h.update(file.name.encode())
            h.update(file.read_bytes())
    return h.hexdigest()[:12]


def data_revision(*paths: Path, label: str | None = None, options: dict[str, str] | None = None) -> str:
    """A task's dataset revision: always the digest of its data files (a label, e.g. a card's
    "revision" or a source commit, is only a prefix), then every option that changes what a subset
    is made of (pivot, pool mode) where it differs from the default. A stored result is reused only
    under the same revision (result_store.py), so changed data or options are always recomputed."""
    revision = folder_revision(*paths)
    if label:
        revision = f"{label}-{revision}"
    for key, value in sorted((options or {}).items()):
        revision += f"+{key}={value}"
    return revision


def custom_task_class(kind: type, name: str, metadata: Any, **attributes: Any) -> type:
    """A task of `kind` over a user's data (`from_folder`): on no leaderboard, in no benchmark, whatever
    the bundled class it was derived from declares."""
    return type(name, (kind,), {"metadata": metadata, "leaderboard_columns": (), "benchmarks": (),
                                "__module__": kind.__module__, **attributes})


class LocalDataTask(AbsTask):
    """An AbsTask whose data are local files and whose scores come from cached embeddings.

    It declares every part of the task contract (task_rules.TaskRules) with a default.
    """

    #: {regex on a score key: ScoreRule}: the task's own ranges (mteb_xalign.task_rules)
    score_rules: ClassVar[dict[str, ScoreRule]] = {}
    #: the leaderboard columns this task contributes
    leaderboard_columns: ClassVar[tuple[Column, ...]] = ()
    #: the benchmarks (mteb Benchmark names) this task belongs to: opt-in, none by default
    benchmarks: ClassVar[tuple[str, ...]] = ()
    #: every subset writes per-query outcomes (per_query.py): a stored result without them is not current
    keeps_outcomes: ClassVar[bool] = True
    #: the retrieval scenario (multi, multi1, monosame, monocross) whose per-language series the report
    #: draws from this task's subsets; None: none (report/series.py)
    report_scenario: ClassVar[str | None] = None
    #: the report's other per-language picture fed by this task: "lareqa" (mAP of each q-X subset),
    #: "sa" (SA of each en-X subset) or "sa_matrix" (the all-pairs SA heatmap); None: none (report/series.py)
    report_series: ClassVar[str | None] = None
    #: what an instruction-following model is told for this task's queries when neither its own
    #: configuration nor the task's `metadata.prompt` says (e.g. the decoder plugin); None: its generic one
    default_instruction: ClassVar[str | None] = None
    #: the task score is shown as stored (0-1, three decimals, as mteb shows SA) rather than x100
    score_shown_as_is: ClassVar[bool] = False

    def consistency_problems(self, subset: str, scores: dict) -> list[str]:
        """Contradictions between the keys of one subset's scores, one sentence each."""
        return []

    def expected_result_sizes(self) -> dict[str, dict[str, int]]:
        """{subset: {score key: count}} from the data (e.g. n_queries), for the leaderboard's validator."""
        raise NotImplementedError

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        self._read_data()
        self.dataset = {
            subset: {split: self._subset_data(subset) for split in self.metadata.eval_splits}
            for subset in self.metadata.hf_subsets
        }
        self.data_loaded = True

    def _read_data(self) -> None:
        raise NotImplementedError

    def _subset_data(self, subset: str) -> Any:
        """What `subset` is made of, from the data just read."""
        raise NotImplementedError

    def unload_data(self) -> None:
        super().unload_data()
        self._embeddings = None
        self._embedded_for = None

    def _evaluate_subset(self, model, data_split, *, hf_split: str, hf_subset: str, encode_kwargs, **kwargs: Any):
        from mteb_xalign.feeding import model_id  # deferred: datasets is slow to import

        wanted = (model_id(model), tuple(self.hf_subsets))
        covered = getattr(self, "_embedded_for", None)
        if covered is None or covered[0] != wanted[0] or hf_subset not in covered[1]:
            # The first subset for this model (or one outside those encoded): everything the
            # selected subsets need, in one pass per role.
            self._embeddings = self._embed_all(model, encode_kwargs=encode_kwargs, split=hf_split)
            self._embedded_for = wanted
        meta = getattr(model, "mteb_model_meta", None)
        self._scoring = (meta.name if meta is not None else wanted[0], getattr(meta, "revision", None),
                         hf_split, hf_subset)
        try:
            return self._score_subset(data_split, self._embeddings)
        finally:
            self._scoring = None

    def _keep_outcomes(self, outcomes: SubsetOutcomes, scores: dict[str, Any]) -> None:
        """Called by `_score_subset` with its per-row values: recorded for the per-query file, and the
        main score's 95% interval added to `scores`."""
        scoring = getattr(self, "_scoring", None)
        if scoring is not None:
            name, revision, split, subset = scoring
            per_query.record(self.metadata.name, name, revision, split, subset, outcomes,
                             main_score=self.metadata.main_score)
        scores.update(intervals.interval_keys(outcomes, self.metadata.main_score))

    def _embed_all(self, model, *, encode_kwargs, split):
        raise NotImplementedError

    def _score_subset(self, data, embeddings) -> dict[str, Any]:
        raise NotImplementedError

    def _calculate_descriptive_statistics_from_split(self, split: str, hf_subset: str | None = None,
                                                     compute_overall: bool = False, **kwargs: Any) -> dict[str, Any]:
        if not self.data_loaded:
            self.load_data()
        subsets = [hf_subset] if hf_subset else list(self.metadata.hf_subsets)
        per_subset = [self._subset_statistics(self.dataset[s][split]) for s in subsets]
        return {key: sum(stats[key] for stats in per_subset) for key in per_subset[0]}

    def _subset_statistics(self, data) -> dict[str, int]:
        """Counts for one subset (e.g. number of queries and documents)."""
        raise NotImplementedError
