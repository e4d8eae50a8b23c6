"""The result type of a ranking: per query, the ranks of its gold documents (and optional extras)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RankResult:
    """Ranks of the gold documents of every query (tie rule: see the package docstring).

    ranks:        per query, int64 ranks (1-based) of its gold documents, in the order given.
    pool_sizes:   per query, |D_q| = n_docs - len(exclude[q]).
    n_relevant:   per query, |R_q| = len(gold[q]).
    mask_counts:  mask name -> per query, per gold document: how many documents of the mask that
                  are neither gold for q nor excluded for q score >= that gold document.
    mask_sizes:   mask name -> per query: how many documents of the mask are in q's pool and not
                  gold for q (what a random model's chance of a mask document outranking a gold
                  depends on).
    top_indices:  (n_queries, top_k) document indices, best first: by score, then by document
                  index; slots beyond |D_q| hold -1.
    top_scores:   (n_queries, top_k) float32 scores matching top_indices (-inf in empty slots).
    """

    ranks: list[np.ndarray]
    pool_sizes: np.ndarray
    n_relevant: np.ndarray
    mask_counts: dict[str, list[np.ndarray]] = field(default_factory=dict)
    mask_sizes: dict[str, np.ndarray] = field(default_factory=dict)
    top_indices: np.ndarray | None = None
    top_scores: np.ndarray | None = None

    @property
    def n_queries(self) -> int:
        return len(self.ranks)
