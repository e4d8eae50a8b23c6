"""The block loop of one shard: score blocks of queries x documents, reduce each block at once.

For a batch of queries and a chunk of documents the float32 score block S is reduced while hot:
per gold slot j, the columns above the band of threshold T[:, j] are counted, and the few inside
the band are scored exactly (exact.py) and counted when their score >= T[:, j]. Excluded
documents are set to -inf in S first, so they are neither counted nor returned. The local top-k
keeps, per query, every document that could still be among the k best, scores them exactly and
keeps the k best by (score desc, document index asc).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mteb_xalign.metrics.ranking.checks import check_rows_finite
from mteb_xalign.metrics.ranking.exact import band, exact_scores, norm_bound, round_down32, sgemm_error
from mteb_xalign.metrics.ranking.plan import RankPlan


@dataclass
class ShardPartial:
    """One shard's contribution: sum `counts` over shards and merge the top lists to get the result.

    counts[i, 0]:     documents of the shard, in query q's pool, scoring >= gold entry i
                      (i indexes plan.gold.flat; q is that entry's query)
    counts[i, 1 + m]: the same restricted to mask m (the driver removes q's own gold documents)
    top_indices/top_scores: (n_queries, top_k) the shard's k best (global index, exact score),
                      -1 / -inf where the shard has fewer documents in the query's pool.
    """

    offset: int
    n_docs: int
    counts: np.ndarray
    top_indices: np.ndarray
    top_scores: np.ndarray


def rank_block_loop(plan: RankPlan, docs: np.ndarray, offset: int, backend, *, chunk_size: int,
                    query_batch: int) -> ShardPartial:
    loop = _ShardLoop(plan, docs, offset, backend, chunk_size)
    n_masks = plan.masks.shape[1]
    counts = np.zeros((len(plan.gold.flat), 1 + n_masks), np.int64)
    top_i = np.full((plan.n_queries, plan.top_k), -1, np.int64)
    top_s = np.full((plan.n_queries, plan.top_k), -np.inf, np.float32)
    for start in range(0, plan.n_queries, query_batch):
        stop = min(start + query_batch, plan.n_queries)
        g = slice(plan.gold.offsets[start], plan.gold.offsets[stop])
        counts[g], top_i[start:stop], top_s[start:stop] = loop.batch(start, stop)
    return ShardPartial(offset, docs.shape[0], counts, top_i, top_s)


class _ShardLoop:
    def __init__(self, plan, docs, offset, backend, chunk_size):
        self.plan, self.docs, self.offset, self.be = plan, docs, offset, backend
        self.blocks = [(a, min(a + chunk_size, docs.shape[0])) for a in range(0, docs.shape[0], chunk_size)]
        self.block_norm: list[float] = []  # max document norm per block, bounded from above
        local = self.plan.masks[offset:offset + docs.shape[0]]
        self.weights = (np.concatenate([np.ones((len(local), 1), np.float32), local.astype(np.float32)], axis=1)
                        if local.shape[1] else None)

    def _doc_norm(self, b: int, a: int, stop: int) -> float:
        """First visit: check the block's rows and bound its largest norm (float32 squares err by gamma)."""
        if b == len(self.block_norm):
            Dc = self.docs[a:stop]
            squared = self.be.squared_norms(Dc)
            check_rows_finite(squared, Dc, "docs", first_row=self.offset + a)
            self.block_norm.append(norm_bound(float(squared.max(initial=0.0)), Dc.shape[1]))
        return self.block_norm[b]

    def batch(self, start: int, stop: int):
        plan, be = self.plan, self.be
        rows, n_masks = stop - start, plan.masks.shape[1]
        lengths = plan.gold.lengths[start:stop]
        g_flat = slice(plan.gold.offsets[start], plan.gold.offsets[stop])
        g_row = np.repeat(np.arange(rows), lengths)
        g_slot = np.arange(len(g_row)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        T = np.full((rows, int(lengths.max(initial=1))), np.inf, np.float32)  # +inf pads ragged lists
        T[g_row, g_slot] = plan.gold_scores[g_flat]
        counts = np.zeros((rows,) + T.shape[1:] + (1 + n_masks,), np.int64)
        excl_row, excl_col = self._exclusions(start, stop)
        top = _TopK(plan.top_k, rows)

        Qd = be.queries(plan.queries[start:stop])
        self.dense = False  # until a block shows that most scores reach the band of some gold
        for b, (a, z) in enumerate(self.blocks):
            doc_norm = self._doc_norm(b, a, z)
            err = sgemm_error(plan.query_norms[start:stop], doc_norm, plan.queries.shape[1], be.input_rounding)
            lo, hi = band(T, err[:, None])
            S = be.scores(Qd, self.docs[a:z])
            sel = slice(*np.searchsorted(excl_col, [a, z]))
            if sel.stop > sel.start:
                be.blank(S, excl_row[sel], excl_col[sel] - a)
            self._count_block(S, T, lo, hi, counts, start, a, z, doc_norm)
            if plan.top_k:
                top.update(self, S, err, start, a, z, doc_norm)
        return counts[g_row, g_slot], top.indices(self.offset), top.scores

    def _count_block(self, S, T, lo, hi, counts, start, a, z, doc_norm):
        """Add the block's documents scoring >= each gold threshold to counts[:, j]."""
        if not self.dense:
            # Gold documents usually score near the top: then few scores reach the lowest band
            # limit of the row, and one pass extracting those serves every gold at once.
            found = self.be.at_least(S, lo.min(axis=1), limit=(z - a) * len(T) // 8)
            if found is not None:
                return self._count_sparse(*found, T, lo, hi, counts, start, a, doc_norm)
            self.dense = True  # the rest of this batch goes straight to the dense passes
        above, band_row, band_col, band_slot = self.be.count_and_band(S, lo, hi, self._weights(a, z))
        counts += above
        for j in range(T.shape[1]):
            mine = band_slot == j
            self._count_band(counts[:, j, :], T[:, j], start, band_row[mine], a + band_col[mine], doc_norm)

    def _count_sparse(self, rows, cols, scores, T, lo, hi, counts, start, a, doc_norm):
        n_rows, in_masks = len(T), self.plan.masks[self.offset + a + cols]
        for j in range(T.shape[1]):
            above = scores > hi[rows, j]
            counts[:, j, 0] += np.bincount(rows[above], minlength=n_rows)
            for m in range(in_masks.shape[1]):
                counts[:, j, 1 + m] += np.bincount(rows[above & in_masks[:, m]], minlength=n_rows)
            inband = ~above & (scores >= lo[rows, j])
            self._count_band(counts[:, j, :], T[:, j], start, rows[inband], a + cols[inband], doc_norm)

    def _weights(self, a, z):
        return None if self.weights is None else self.weights[a:z]

    def _exclusions(self, start, stop):
        """(row in batch, shard-local column) of every excluded pair inside this shard, by column."""
        ex = self.plan.exclude
        docs = ex.flat[ex.offsets[start]:ex.offsets[stop]] - self.offset
        rows = np.repeat(np.arange(stop - start), ex.lengths[start:stop])
        inside = (docs >= 0) & (docs < self.docs.shape[0])
        order = np.argsort(docs[inside], kind="stable")
        return rows[inside][order], docs[inside][order]

    def _count_band(self, counts, thresholds, start, rows, cols, doc_norm):
        """Pairs whose BLAS score is too close to call: count those whose exact score >= threshold."""
        if not rows.size:
            return
        plan = self.plan
        hit = exact_scores(plan.queries, self.docs, start + rows, cols, plan.query_norms, doc_norm) >= thresholds[rows]
        np.add.at(counts[:, 0], rows[hit], 1)
        for m in range(self.plan.masks.shape[1]):
            in_mask = hit & self.plan.masks[self.offset + cols, m]
            np.add.at(counts[:, 1 + m], rows[in_mask], 1)


class _TopK:
    """Per query, the k best documents seen so far by (exact score desc, index asc)."""

    def __init__(self, k: int, rows: int):
        self.k = k
        self.best_s = np.full((rows, k), -np.inf, np.float32)
        self.best_i = np.full((rows, k), -1, np.int64)  # shard-local

    def update(self, loop: _ShardLoop, S, err, start, a, z, doc_norm):
        k, be = self.k, loop.be
        # A document can still enter only if its BLAS score reaches `cut` (see _floor).
        cut = np.where(self.best_i[:, -1] >= 0, _floor(self.best_s[:, -1], err), -np.inf).astype(np.float32)
        if k < z - a:  # the block alone holds k documents scoring at least its k-th BLAS score - err
            kth = be.kth_largest(S, k)
            cut = np.maximum(cut, _floor(round_down32(kth.astype(np.float64) - err), err))
        rows, cols, blas = be.at_least(S, cut)
        keep = blas > -np.inf  # excluded documents
        rows, cols = rows[keep], cols[keep] + a
        scores = exact_scores(loop.plan.queries, loop.docs, start + rows, cols, loop.plan.query_norms, doc_norm)
        have = self.best_i >= 0
        all_r = np.concatenate([np.nonzero(have)[0], rows])
        all_i = np.concatenate([self.best_i[have], cols])
        all_s = np.concatenate([self.best_s[have], scores])
        order = np.lexsort((all_i, -all_s.astype(np.float64), all_r))
        all_r, all_i, all_s = all_r[order], all_i[order], all_s[order]
        slot = np.arange(len(all_r)) - np.searchsorted(all_r, all_r)
        fits = slot < k
        self.best_i[all_r[fits], slot[fits]] = all_i[fits]
        self.best_s[all_r[fits], slot[fits]] = all_s[fits]

    def indices(self, offset):
        return np.where(self.best_i >= 0, self.best_i + offset, -1)

    @property
    def scores(self):
        return self.best_s


def _floor(score32: np.ndarray, err: np.ndarray) -> np.ndarray:
    """A float32 BLAS-score floor for documents whose exact score can reach score32: exact score >=
    score32 needs exact dot > prev32(score32) (rounding is monotone), so BLAS > prev32 - err."""
    prev = np.nextafter(np.asarray(score32, np.float32), np.float32(-np.inf)).astype(np.float64)
    return np.nextafter(round_down32(prev - err), np.float32(-np.inf))
