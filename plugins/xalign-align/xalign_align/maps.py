"""Training-free alignment maps, fitted from embedding pairs with linear algebra (numpy only).

Every map has one form, applied row-wise to L2-normalised base vectors of language l:

    y = (x - offset_l) @ W_l - basis.T @ (basis @ (x - offset_l))     (then re-normalised)

Per-language methods (fitted from X-English pairs, English is the pivot and stays as it is):
  lstsq       W_l = argmin ||X_l W - E_l||_F (least squares; minimum-norm when n_l < dim)
  procrustes  W_l = U V^T with U S V^T = svd(X_l^T E_l): the rotation closest to least squares
  linear-sgd  the same linear map learnt by a single-layer net (torch, full-batch gradient
              descent on the squared error); converges to the least-squares map
  center      offset_l = mean of language l's training vectors (English's from the English side)
Language-free (needs no label at encode time):
  subspace    basis = the top-`rank` right singular vectors of the matrix of per-language means;
              that low-rank "language subspace" is projected out of every vector.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PER_LANGUAGE = ("lstsq", "procrustes", "linear-sgd", "center")
METHODS = (*PER_LANGUAGE, "subspace")
#: Methods whose map is determined only by more distinct pairs than dimensions.
LEAST_SQUARES = ("lstsq", "linear-sgd")


def min_distinct_pairs(method: str, dim: int) -> int:
    """The fewest distinct training pairs per language `method` accepts (fewer: refused).

    lstsq / linear-sgd: dim + 1. With n <= dim pairs least squares fits them exactly (train MSE ~0)
    and the minimum-norm solution sends everything off the pairs' span to zero: a rank-n map that
    collapses the rest of the space.
    procrustes, center, subspace: 2. A mean of one text is that text; a rotation from one pair is
    arbitrary on all other directions. (procrustes with 2..dim pairs is accepted with a warning:
    see `underdetermined`.)
    """
    return dim + 1 if method in LEAST_SQUARES else 2


def check_enough_pairs(method: str, counts: dict[str, int], dim: int, what: str = "distinct pairs") -> None:
    """Refuse to fit `method` when a language has fewer than `min_distinct_pairs` (one line, naming it)."""
    from mteb_xalign.errors import DataError

    need = min_distinct_pairs(method, dim)
    short = {lang: n for lang, n in sorted(counts.items()) if n < need}
    if short:
        listed = ", ".join(f"{lang} has {n}" for lang, n in short.items())
        why = (f"a {dim}x{dim} least-squares map needs more distinct pairs than dimensions (with fewer it fits "
               "them exactly and sends the rest of the space to zero)" if method in LEAST_SQUARES
               else f"a {method} map from one pair is that pair")
        raise DataError(f"too few {what} to fit {method}: {listed}, at least {need} needed: {why}; "
                        f"add pairs or leave the language out (--languages)")


def underdetermined(method: str, counts: dict[str, int], dim: int) -> list[str]:
    """Warnings (one line each) for languages whose procrustes rotation the pairs determine only in part:
    with n <= dim distinct pairs it is fitted on their n-dimensional span and is, on the other
    dim - n directions, whatever the SVD routine returns. Orthogonal all the same, so it neither
    collapses nor stretches the space (which is why it is a warning, not a refusal as for lstsq)."""
    if method != "procrustes":
        return []
    return [f"procrustes for {lang}: {n} distinct pairs for {dim} dimensions: the rotation is fitted on "
            f"{n} directions and arbitrary on the other {dim - n}" for lang, n in sorted(counts.items()) if n <= dim]


@dataclass
class AlignmentMap:
    method: str
    dim: int
    pivot: str = "en"
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # lang -> (dim, dim)
    offsets: dict[str, np.ndarray] = field(default_factory=dict)  # lang -> (dim,)
    basis: np.ndarray | None = None  # (rank, dim), orthonormal rows
    info: dict = field(default_factory=dict)  # fit diagnostics, written to the card

    @property
    def per_language(self) -> bool:
        return self.method in PER_LANGUAGE

    @property
    def languages(self) -> list[str]:
        return sorted(set(self.weights) | set(self.offsets) | ({self.pivot} if self.per_language else set()))

    def apply(self, vectors: np.ndarray, languages: list[str] | None) -> np.ndarray:
        """Map rows; `languages` (one code per row) is required by per-language methods.

        A row whose language the map has no entry for raises KeyError: never an unmapped row.
        """
        x = np.asarray(vectors, dtype=np.float32)
        if self.method == "subspace":
            return x - (x @ self.basis.T) @ self.basis
        if languages is None or len(languages) != len(x):
            raise ValueError(f"{self.method} needs one language per text ({len(x)} texts)")
        out = np.empty_like(x)
        groups: dict[str, list[int]] = {}
        for row, lang in enumerate(languages):
            groups.setdefault(lang, []).append(row)
        for lang, rows in groups.items():
            block = x[rows]
            if lang in self.offsets:
                block = block - self.offsets[lang]
            if lang in self.weights:
                block = block @ self.weights[lang]
            elif lang != self.pivot and lang not in self.offsets:
                raise KeyError(lang)
            out[rows] = block
        return out

    def tensors(self) -> dict[str, np.ndarray]:
        out = {f"W/{lang}": w for lang, w in self.weights.items()}
        out.update({f"offset/{lang}": c for lang, c in self.offsets.items()})
        if self.basis is not None:
            out["basis"] = self.basis
        return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}

    @classmethod
    def from_tensors(cls, method: str, dim: int, pivot: str, tensors: dict[str, np.ndarray]) -> "AlignmentMap":
        m = cls(method=method, dim=dim, pivot=pivot)
        for key, value in tensors.items():
            kind, _, lang = key.partition("/")
            if kind == "W":
                m.weights[lang] = value
            elif kind == "offset":
                m.offsets[lang] = value
            elif key == "basis":
                m.basis = value
        return m


def lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """argmin_W ||x W - y||_F; the minimum-norm solution when x has fewer rows than columns."""
    w, *_ = np.linalg.lstsq(np.asarray(x, np.float64), np.asarray(y, np.float64), rcond=None)
    return w


def procrustes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The orthogonal W minimising ||x W - y||_F (Schönemann 1966): U V^T from svd(x^T y)."""
    u, _, vt = np.linalg.svd(np.asarray(x, np.float64).T @ np.asarray(y, np.float64))
    return u @ vt


def linear_sgd(x: np.ndarray, y: np.ndarray, *, steps: int = 3000, lr: float = 0.05,
               seed: int = 0) -> tuple[np.ndarray, dict]:
    """The least-squares map learnt by a single-layer linear net (no bias) with gradient descent.

    Full-batch Adam on the mean squared error; the loss is convex in W, so gradient descent
    reaches the least-squares minimiser (the minimum-norm one from a zero start when x is
    rank-deficient). Returns W (dim_in, dim_out) and the final loss.
    """
    import torch

    torch.manual_seed(seed)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.float32)
    net = torch.nn.Linear(xt.shape[1], yt.shape[1], bias=False)
    torch.nn.init.zeros_(net.weight)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr * 1e-3)
    loss = torch.tensor(0.0)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(xt), yt, reduction="sum") / len(xt)
        loss.backward()
        opt.step()
        sched.step()
    return net.weight.detach().double().numpy().T, {"final_loss": float(loss.detach())}


def language_subspace(means: np.ndarray, rank: int) -> np.ndarray:
    """Top-`rank` right singular vectors of the (n_languages, dim) matrix of language means."""
    if not 1 <= rank <= min(means.shape):
        raise ValueError(f"rank must be in 1..{min(means.shape)} (number of languages), got {rank}")
    _, _, vt = np.linalg.svd(np.asarray(means, np.float64), full_matrices=False)
    return vt[:rank]


def fit(method: str, pairs: dict[str, tuple[np.ndarray, np.ndarray]], *, pivot: str = "en",
        rank: int = 1, sgd_steps: int = 3000) -> AlignmentMap:
    """Fit `method` from {lang: (X vectors, their English translations' vectors)}."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    dim = next(iter(pairs.values()))[0].shape[1]
    # Copies of one pair are one pair: count distinct (X, English) rows.
    distinct = {lang: len(np.unique(np.hstack([x, e]), axis=0)) for lang, (x, e) in pairs.items()}
    check_enough_pairs(method, distinct, dim, "distinct vector pairs")
    m = AlignmentMap(method=method, dim=dim, pivot=pivot)
    m.info["distinct_vector_pairs"] = dict(sorted(distinct.items()))
    if underdetermined(method, distinct, dim):
        m.info["underdetermined"] = underdetermined(method, distinct, dim)
    if method in ("lstsq", "procrustes", "linear-sgd"):
        for lang, (x, e) in sorted(pairs.items()):
            if method == "lstsq":
                w = lstsq(x, e)
            elif method == "procrustes":
                w = procrustes(x, e)
            else:
                w, diag = linear_sgd(x, e, steps=sgd_steps)
                gap = float(np.linalg.norm(x @ w - x @ lstsq(x, e)) / max(np.linalg.norm(x @ lstsq(x, e)), 1e-12))
                m.info.setdefault("linear_sgd", {})[lang] = {**diag, "relative_gap_to_lstsq_on_train": gap}
            m.weights[lang] = w.astype(np.float32)
            m.info.setdefault("train_mse", {})[lang] = float(np.mean(np.sum((x @ w - e) ** 2, axis=1)))
        return m
    english = np.concatenate([e for _, e in pairs.values()])
    means = {lang: x.mean(axis=0) for lang, (x, _) in pairs.items()}
    means[pivot] = english.mean(axis=0)
    if method == "center":
        m.offsets = {lang: mu.astype(np.float32) for lang, mu in means.items()}
        return m
    ordered = np.stack([means[lang] for lang in sorted(means)])
    m.basis = language_subspace(ordered, rank).astype(np.float32)
    m.info["rank"] = rank
    m.info["languages_in_subspace"] = sorted(means)
    return m
