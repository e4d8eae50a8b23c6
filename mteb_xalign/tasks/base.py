"""What every xalign task shares: local data instead of the hub, and one encoding pass.

mteb calls `task.evaluate(..., subsets_to_run=[one subset])` once per subset (saving the
result file after each). Our tasks encode every text the whole task needs on the first
call (one batched pass per role, through the shared embedding cache), then score each
subset from those vectors, so no text is sent to the model twice.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from mteb.abstasks.abstask import AbsTask


def folder_revision(*paths: Path) -> str:
    """A content hash of data files: results name the exact data they were computed on."""
    h = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).is_dir() else [Path(path)]
        for file in files:
            h.update(file.name.encode())
            h.update(file.read_bytes())
    return h.hexdigest()[:12]


class LocalDataTask(AbsTask):
    """An AbsTask whose data are local files and whose scores come from cached embeddings."""

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        self._read_data()
        self.dataset = {subset: {split: None for split in self.metadata.eval_splits} for subset in self.metadata.hf_subsets}
        self.data_loaded = True

    def _read_data(self) -> None:
        raise NotImplementedError

    def unload_data(self) -> None:
        super().unload_data()
        self._embeddings = None
        self._embedded_for = None

    def _calculate_descriptive_statistics_from_split(self, split: str, hf_subset: str | None = None,
                                                     compute_overall: bool = False, **kwargs: Any) -> dict[str, Any]:
        if not self.data_loaded:
            self.load_data()
        subsets = [hf_subset] if hf_subset else list(self.metadata.hf_subsets)
        per_subset = [self._subset_statistics(s) for s in subsets]
        return {key: sum(stats[key] for stats in per_subset) for key in per_subset[0]}

    def _subset_statistics(self, subset: str) -> dict[str, int]:
        """Counts for one subset (e.g. number of queries and documents)."""
        raise NotImplementedError

    def _evaluate_subset(self, *args: Any, **kwargs: Any):  # evaluate() below does the work
        raise NotImplementedError

    def evaluate(self, model, split: str = "test", subsets_to_run=None, *, encode_kwargs, **kwargs):
        if not self.data_loaded:
            self.load_data()
        subsets = [s for s in self.hf_subsets if subsets_to_run is None or s in subsets_to_run]
        from mteb_xalign.encoding import model_id

        key = model_id(model)
        if getattr(self, "_embedded_for", None) != key:
            # Everything the selected subsets need, in one pass per role.
            self._embeddings = self._embed_all(model, encode_kwargs=encode_kwargs, split=split)
            self._embedded_for = key
        scores = {}
        for subset in subsets:
            scores[subset] = self._score_subset(subset, self._embeddings)
            self._add_main_score(scores[subset])
        return scores

    def _embed_all(self, model, *, encode_kwargs, split):
        raise NotImplementedError

    def _score_subset(self, subset: str, embeddings):
        raise NotImplementedError
