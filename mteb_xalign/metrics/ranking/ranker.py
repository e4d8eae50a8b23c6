"""The block loop of one shard: score blocks of queries x documents, reduce each block at once.

For a batch of queries and a chunk of documents the float32 score block S is reduced while hot:
per gold slot j, the columns above the band of threshold T[:, j] are counted, and the few inside
the band are scored exactly (exact.py), a query batch's band pairs together, and counted when their
score >= T[:, j]. Excluded
documents are set to -inf in S first, so they are neither counted nor returned. The local top-k
keeps, per query, every document that could still be among the k best, scores them exactly and
keeps the k best by (score desc, document index asc).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from mteb_xalign.metrics.ranking import fused
from mteb_xalign.metrics.ranking.checks import check_rows_finite
from mteb_xalign.metrics.ranking.exact import band, exact_scores, norm_bound, round_down32, sgemm_error
from mteb_xalign.metrics.ranking.plan import RankPlan

# Band pairs wait until this many are pending (or the query batch ends), then are scored together:
# a query's pairs over many blocks make one float64 matrix-vector product instead of a gather each.
PENDING_PAIRS = 2**19


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


# The pool is cut between threads only where each part gets at least this many documents: a
# thinner product runs well below sgemm speed, and a small pool is quick on one thread anyway.
MIN_PART_DOCS = 256


def rank_block_loop(plan: RankPlan, docs: np.ndarray, offset: int, backend, *, chunk_size: int,
                    query_batch: int) -> ShardPartial:
    """Every query batch against every block of `docs`. With backend.workers > 1 the documents are
    cut into that many contiguous parts, ranked side by side by as many threads (numpy and BLAS
    release the GIL), each with its own backend and one BLAS thread, and merged as shards are.
    A thread packs, norms and reduces only its own documents' blocks, each while it is in its
    core's cache (cutting the queries instead made both threads pack every block and wait for
    each other's block norms: 1.29-1.32 x the bare product at 1M documents against 1.16-1.22,
    measured in one run). The parts' blocks are chunk_size / workers documents wide, so all the
    threads' score blocks together stay within one query_batch x chunk_size block."""
    workers = max(1, min(int(getattr(backend, "workers", 1)), docs.shape[0] // MIN_PART_DOCS))
    if workers == 1:
        return _rank_part(plan, docs, offset, backend, chunk_size, query_batch)
    cuts = [docs.shape[0] * w // workers for w in range(workers + 1)]
    chunk = max(1, chunk_size // workers)
    with ThreadPoolExecutor(workers, thread_name_prefix="xalign-rank") as pool:
        running = [pool.submit(_rank_part, plan, docs[a:z], offset + a, backend if w == 0 else backend.fresh(),
                               chunk, query_batch) for w, (a, z) in enumerate(zip(cuts, cuts[1:]))]
        # In order: the first part's error is re-raised first, so a bad row named is the pool's first.
        parts = [done.result() for done in running]
    top_i, top_s = merge_top(plan.top_k, [p.top_indices for p in parts], [p.top_scores for p in parts])
    return ShardPartial(offset, docs.shape[0], sum(p.counts for p in parts), top_i, top_s)


def merge_top(k: int, indices: list[np.ndarray], scores: list[np.ndarray]):
    """The k best per query over several parts of a pool (global indices, exact scores), by
    (score desc, index asc), as one machine orders them."""
    idx, sc = np.concatenate(indices, axis=1), np.concatenate(scores, axis=1)
    rows = np.repeat(np.arange(idx.shape[0]), idx.shape[1])
    empty_last = np.where(idx < 0, np.iinfo(np.int64).max, idx).ravel()
    # Row is the primary key and every row has the same width, so the order reshapes per row.
    order = np.lexsort((empty_last, -sc.astype(np.float64).ravel(), rows)).reshape(idx.shape)[:, :k]
    return idx.ravel()[order], sc.ravel()[order]


def _rank_part(plan: RankPlan, docs: np.ndarray, offset: int, backend, chunk_size: int,
               query_batch: int) -> ShardPartial:
    """One thread's work: every query batch against every block of its documents."""
    n_masks = plan.masks.shape[1]
    counts = np.zeros((len(plan.gold.flat), 1 + n_masks), np.int64)
    top_i = np.full((plan.n_queries, plan.top_k), -1, np.int64)
    top_s = np.full((plan.n_queries, plan.top_k), -np.inf, np.float32)
    blocks = [(a, min(a + chunk_size, docs.shape[0])) for a in range(0, docs.shape[0], chunk_size)]
    local = plan.masks[offset:offset + docs.shape[0]]
    # Per document: 1 (the pool) and its masks, so one float32 product counts all.
    weights = (np.concatenate([np.ones((len(local), 1), np.float32), local.astype(np.float32)], axis=1)
               if local.shape[1] else None)
    loop = _ShardLoop(plan, docs, offset, backend, blocks, _BlockNorms(docs, offset, blocks, backend), weights)
    for start in range(0, plan.n_queries, query_batch):
        stop = min(start + query_batch, plan.n_queries)
        g = slice(plan.gold.offsets[start], plan.gold.offsets[stop])
        counts[g], top_i[start:stop], top_s[start:stop] = loop.batch(start, stop)
    return ShardPartial(offset, docs.shape[0], counts, top_i, top_s)


class _BlockNorms:
    """Per block, an upper bound of its largest document norm (float32 squares err by gamma),
    computed when the first query batch reaches the block, just before its product reads the same
    rows: the pool is streamed from memory once, not once more for the norms beforehand.
    Non-finite rows are refused, naming the first (blocks are reached in order)."""

    def __init__(self, docs, offset, blocks, backend):
        self.docs, self.offset, self.blocks, self.be = docs, offset, blocks, backend
        self.bounds: list[float | None] = [None] * len(blocks)

    def __getitem__(self, b: int) -> float:
        bound = self.bounds[b]
        if bound is None:
            a, z = self.blocks[b]
            block = self.docs[a:z]
            top = fused.max_squared_norm(block)  # a compiled pass: 25-30% less time than einsum's rows
            if not np.isfinite(top):  # some row is bad: the rows' norms name the first
                squared = self.be.squared_norms(block)
                check_rows_finite(squared, block, "docs", first_row=self.offset + a)
                top = float(squared.max())
            bound = self.bounds[b] = norm_bound(top, self.docs.shape[1])
        return bound


class _ShardLoop:
    def __init__(self, plan, docs, offset, backend, blocks, block_norms, weights):
        self.plan, self.docs, self.offset, self.be = plan, docs, offset, backend
        self.blocks, self.block_norm, self.weights = blocks, block_norms, weights

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
        self.pending = _PendingBand()
        for b, (a, z) in enumerate(self.blocks):
            doc_norm = self.block_norm[b]
            err = sgemm_error(plan.query_norms[start:stop], doc_norm, plan.queries.shape[1], be.input_rounding)
            lo, hi = band(T, err[:, None])
            S = be.scores(Qd, self.docs[a:z])
            sel = slice(*np.searchsorted(excl_col, [a, z]))
            if sel.stop > sel.start:
                be.blank(S, excl_row[sel], excl_col[sel] - a)
            self._count_block(S, T, lo, hi, counts, a, z, doc_norm)
            if plan.top_k:
                top.update(self, S, err, start, a, z, doc_norm)
            if len(self.pending) >= PENDING_PAIRS:
                self._settle_band(counts, T, start)
        self._settle_band(counts, T, start)
        return counts[g_row, g_slot], top.indices(self.offset), top.scores

    def _count_block(self, S, T, lo, hi, counts, a, z, doc_norm):
        """Add the block's documents scoring >= each gold threshold to counts[:, j]."""
        if not self.dense:
            # Gold documents usually score near the top: then few scores reach the lowest band
            # limit of the row, and one pass extracting those serves every gold at once.
            found = self.be.at_least(S, lo.min(axis=1), limit=(z - a) * len(T) // 8)
            if found is not None:
                return self._count_sparse(*found, T, lo, hi, counts, a, doc_norm)
            self.dense = True  # the rest of this batch goes straight to the dense passes
        above, band_row, band_col, band_slot = self.be.count_and_band(S, lo, hi, self._weights(a, z))
        counts += above
        self.pending.add(band_row, a + band_col, band_slot, doc_norm)

    def _count_sparse(self, rows, cols, scores, T, lo, hi, counts, a, doc_norm):
        n_rows, in_masks = len(T), self.plan.masks[self.offset + a + cols]
        for j in range(T.shape[1]):
            above = scores > hi[rows, j]
            counts[:, j, 0] += np.bincount(rows[above], minlength=n_rows)
            for m in range(in_masks.shape[1]):
                counts[:, j, 1 + m] += np.bincount(rows[above & in_masks[:, m]], minlength=n_rows)
            inband = ~above & (scores >= lo[rows, j])
            self.pending.add(rows[inband], a + cols[inband], np.full(int(inband.sum()), j), doc_norm)

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

    def _settle_band(self, counts, T, start):
        """The pending pairs whose BLAS score was too close to call: count those whose exact score
        reaches their gold threshold T[row, slot]."""
        rows, cols, slots, doc_norm = self.pending.take()
        if not rows.size:
            return
        plan = self.plan
        hit = exact_scores(plan.queries, self.docs, start + rows, cols, plan.query_norms, doc_norm) >= T[rows, slots]
        np.add.at(counts[:, :, 0], (rows[hit], slots[hit]), 1)
        for m in range(plan.masks.shape[1]):
            in_mask = hit & plan.masks[self.offset + cols, m]
            np.add.at(counts[:, :, 1 + m], (rows[in_mask], slots[in_mask]), 1)


class _PendingBand:
    """(row in batch, shard-local document, gold slot) of band pairs not yet scored exactly, and the
    largest document-norm bound of their blocks (a larger bound is still a bound)."""

    def __init__(self):
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.size, self.doc_norm = 0, 0.0

    def __len__(self):
        return self.size

    def add(self, rows, cols, slots, doc_norm: float) -> None:
        if len(rows):
            self.parts.append((rows, cols, slots))
            self.size += len(rows)
            self.doc_norm = max(self.doc_norm, doc_norm)

    def take(self):
        if not self.parts:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty, 0.0
        rows, cols, slots = (np.concatenate(x).astype(np.int64, copy=False) for x in zip(*self.parts))
        doc_norm = self.doc_norm
        self.parts, self.size, self.doc_norm = [], 0, 0.0
        return rows, cols, slots, doc_norm


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
