"""Semantic Affinity (SA), as Semanscope defines it, in pure numpy.

Words are rows of an embedding matrix; a concept maps each language to the rows of its
variants (every variant its own word, its own row). With d the distance (cosine: 1 - cos):

- Horizontal spread H_l: mean d over all pairs of the unique words of language l (its whole
  vocabulary in the word list). H = mean of H_l over the languages compared.
- Vertical spread: each concept expands to the cross product of its variants over the
  languages that have it (a language without the concept is left out of that concept only);
  a tuple's spread V_t is the mean d over its language pairs; V = mean over all tuples.
- SR = V / H and SA = 1 / (1 + SR), in (0, 1]: 0.5 means translations are no closer than two
  random words of one language; 1 means translations coincide.

Standard errors follow Semanscope's `semantic_affinity.py` (digital-duck/semanscope):
sem_H = sample std of the per-language H_l / sqrt(#languages); sem_V = sample std of the
per-tuple V_t / sqrt(#tuples); sem_SR = SR * sqrt((sem_V/V)^2 + (sem_H/H)^2) and
sem_SA = sem_SR / (1 + SR)^2. (Tuples of one concept share words, so sem_V treats strongly
correlated samples as independent and is optimistic; it is kept for comparability.)

The Euclidean variant (Semanscope's default "euclidean" metric) uses the raw vectors, d = L2
distance, and root-mean-square in place of every mean over distances: H_l = RMS over word
pairs and V_t = RMS over a tuple's language pairs; V and H stay means over tuples/languages.

Where we differ from the reference code on purpose: it embeds only a row's first variant and
reuses that vector for all variants, embeds empty cells as the string "nan", and counts a
language with fewer than two words as H_l = 0. Here each variant has its own row, missing
words do not exist, and a language with fewer than two words has no H_l (it is left out of H).

Also reported: the concept-weighted vertical spread (mean over concepts of each concept's
mean over tuples). Tuple weighting lets a concept with many variants in many languages
dominate V: in Swadesh-207's 24-language "all" set, "that", "you" and "this" hold 73% of all
tuples. The concept-weighted SA gives every concept one vote.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mteb_xalign.metrics.blas import one_blas_thread

STATUS_OK = "ok"
STATUS_COLLAPSED = "collapsed"
STATUS_NO_DATA = "no_data"

METRICS = ("cosine", "euclidean")


@dataclass(frozen=True)
class AffinityResult:
    semantic_affinity: float
    semantic_ratio: float
    sa_sem: float
    sr_sem: float
    horizontal_spread: float
    horizontal_sem: float
    vertical_spread: float
    vertical_sem: float
    #: SA with every concept weighted equally (see the module docstring).
    semantic_affinity_concept_mean: float
    vertical_spread_concept_mean: float
    n_concepts: int
    n_tuples: int
    n_languages: int
    status: str
    metric: str
    per_language_spread: dict[str, float] = field(default_factory=dict)
    #: Mean vertical spread of each concept used (in input order; None where not used).
    concept_vertical: list[float | None] = field(default_factory=list)
    #: Number of variant tuples of each concept used (its weight in V; None where not used).
    concept_tuples: list[float | None] = field(default_factory=list)
    #: True when some concept's tuples were too many to enumerate (Euclidean only) and V for
    #: it is a seeded Monte-Carlo estimate.
    vertical_sampled: bool = False


def _one_blas_thread(func):
    """Run with a single BLAS thread: the metric multiplies many tiny per-concept matrices,
    where a BLAS thread pool only adds hand-over cost (4x slower on a busy 2-core machine)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return func(*args, **kwargs)

    return wrapper


def _prepare(embeddings: np.ndarray, metric: str) -> np.ndarray:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-d array, got shape {x.shape}")
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x = x / np.where(norms == 0, 1.0, norms)  # a zero vector has cosine 0 with anything
    return x


def _distances(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Distance matrix between the rows of a and b (rows of `_prepare`d vectors)."""
    if metric == "cosine":
        return 1.0 - a @ b.T
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(sq, 0.0))


def mean_pairwise(x: np.ndarray, metric: str) -> float:
    """Spread of one language: mean (cosine) or RMS (Euclidean) distance over pairs i<j.

    O(n·dim) rather than O(n²·dim), from sum_{i<j} u_i·u_j = (|sum u|² - sum |u_i|²) / 2 and
    sum_{i<j} |x_i - x_j|² = n·sum |x_i|² - |sum x|².
    """
    n = x.shape[0]
    if n < 2:
        raise ValueError("need at least two words")
    pairs = n * (n - 1) / 2
    total = x.sum(0)
    sq_norms = float((x * x).sum())
    if metric == "cosine":
        dot_sum = (float(total @ total) - sq_norms) / 2.0
        return max(0.0, 1.0 - dot_sum / pairs)
    return math.sqrt(max(0.0, (n * sq_norms - float(total @ total)) / pairs))


@dataclass
class _Blocks:
    """Per language pair (a, b) of one concept: mean and mean square of the k_a x k_b cosine
    distance block, and each variant's mean distance to the other language's variants."""

    sizes: np.ndarray  # k_a per language
    mean: np.ndarray  # (n, n) mu_ab
    mean_sq: np.ndarray  # (n, n) mean of D_ab squared
    row_mean: np.ndarray  # (sum k, n): r_ab(i) for variant i (of its language a) against b
    owner: np.ndarray  # (sum k,) language index of each variant


def _blocks(groups: list[np.ndarray], metric: str = "cosine") -> _Blocks:
    # One distance matrix per concept; block sums through the variant -> language indicator M.
    sizes = np.array([g.shape[0] for g in groups])
    owner = np.repeat(np.arange(len(groups)), sizes)
    y = np.concatenate(groups)
    d = _distances(y, y, metric)
    m = np.zeros((len(owner), len(groups)))
    m[np.arange(len(owner)), owner] = 1.0
    counts = np.outer(sizes, sizes)
    row_sums = d @ m
    return _Blocks(
        sizes=sizes,
        mean=(m.T @ row_sums) / counts,
        mean_sq=(m.T @ (d * d) @ m) / counts,
        row_mean=row_sums / sizes[None, :],
        owner=owner,
    )


def _concept_moments_cosine(groups: list[np.ndarray]) -> tuple[float, float]:
    """Mean and mean square of V_t over the cross product of `groups`, without enumerating it.

    V_t = (1/P) sum_{a<b} D_ab(t_a, t_b), P = number of language pairs. A uniform tuple picks
    each language's variant independently and uniformly, so t_a and t_b are independent and
    uniform on S_a x S_b, and by linearity of expectation
        E[V_t] = (1/P) sum_{a<b} mean(D_ab),
    i.e. the mean over the cross product equals the mean over language pairs of the mean
    pairwise distance between the two variant sets (exactly; tested against enumeration).

    For E[V_t^2] = (1/P^2) sum_e sum_f E[D_e D_f] over ordered pairs of language pairs e, f:
    disjoint e, f are independent (E = mu_e mu_f); e = f gives the mean of D_e^2; e = (a,b),
    f = (a,c) sharing language a give E over a's variant i of r_ab(i) r_ac(i), with r_ab(i)
    the mean of row i of D_ab. Starting from (sum_e mu_e)^2, the corrections are
    sum_e (mean D_e^2 - mu_e^2) + sum_a (Var_i R_a(i) - sum_b Var_i r_ab(i)), R_a = sum_b r_ab.
    """
    n = len(groups)
    n_pairs = n * (n - 1) / 2
    blocks = _blocks(groups)
    upper = np.triu_indices(n, 1)
    mu = blocks.mean[upper]
    mu_sum = float(mu.sum())
    same_pair = float((blocks.mean_sq[upper] - mu * mu).sum())
    r = blocks.row_mean.copy()
    r[np.arange(len(blocks.owner)), blocks.owner] = 0.0  # a variant against its own language
    # sum_a [Var_i R_a(i) - sum_b Var_i r_ab(i)], with population variances over a's variants,
    # from per-language means of R, R², r and r² (no Python loop over languages).
    sizes = blocks.sizes.astype(float)
    big_r = r.sum(1)
    mean_r = np.bincount(blocks.owner, weights=big_r, minlength=n) / sizes
    mean_r2 = np.bincount(blocks.owner, weights=big_r * big_r, minlength=n) / sizes
    col_sq = np.bincount(blocks.owner, weights=(r * r).sum(1), minlength=n) / sizes
    group_means = np.zeros((n, n))
    np.add.at(group_means, blocks.owner, r)
    group_means /= sizes[:, None]
    shared = float((mean_r2 - mean_r**2).sum() - (col_sq - (group_means**2).sum(1)).sum())
    mean = mu_sum / n_pairs
    mean_sq = (mu_sum * mu_sum + same_pair + shared) / (n_pairs * n_pairs)
    return mean, max(mean_sq, mean * mean)


def _tuple_sums_exact(sq: np.ndarray, owner: np.ndarray, sizes: list[int]) -> np.ndarray:
    """S_t = sum over language pairs of D²(t_a, t_b) for every tuple t of the cross product.

    `sq` is the squared-distance matrix of all the concept's variants, `owner` each row's
    language. Languages with one variant add a constant (their pairs among themselves) and a
    fixed vector per other language; the rest is built one language at a time (S over the
    languages so far, plus the new language's distances to each of them): O(T·n) gathers.
    """
    n = len(sizes)
    rows = [np.flatnonzero(owner == a) for a in range(n)]
    single = [a for a in range(n) if sizes[a] == 1]
    multi = [a for a in range(n) if sizes[a] > 1]
    single_rows = np.array([rows[a][0] for a in single], dtype=int)
    const = float(sq[np.ix_(single_rows, single_rows)].sum() / 2.0) if single else 0.0
    sums = np.array([const])
    digits: list[np.ndarray] = []
    for c_pos, c in enumerate(multi):
        k = sizes[c]
        from_single = sq[np.ix_(single_rows, rows[c])].sum(0) if single else np.zeros(k)
        add = np.broadcast_to(from_single, (sums.shape[0], k)).copy()
        for a_pos in range(c_pos):
            add += sq[np.ix_(rows[multi[a_pos]], rows[c])][digits[a_pos]]
        sums = (sums[:, None] + add).ravel()
        digits = [np.repeat(d, k) for d in digits] + [np.tile(np.arange(k), len(add))]
    return sums


def _concept_moments_euclidean(
    groups: list[np.ndarray], max_exact: int, n_samples: int, rng: np.random.Generator
) -> tuple[float, float, bool]:
    """Mean and mean square of V_t = RMS over language pairs, over the cross product.

    The square root does not split over pairs, so the product is enumerated up to
    `max_exact` tuples; beyond that a seeded uniform sample of `n_samples` tuples estimates
    both moments (returns sampled=True).
    """
    n = len(groups)
    sizes = [g.shape[0] for g in groups]
    n_pairs = n * (n - 1) // 2
    owner = np.repeat(np.arange(n), sizes)
    y = np.concatenate(groups)
    sq = np.square(_distances(y, y, "euclidean"))
    np.fill_diagonal(sq, 0.0)
    total = math.prod(sizes)
    if total <= max_exact:
        v = np.sqrt(np.maximum(_tuple_sums_exact(sq, owner, sizes), 0.0) / n_pairs)
        return float(v.mean()), float((v * v).mean()), False
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    picks = np.stack([starts[a] + rng.integers(0, sizes[a], size=n_samples) for a in range(n)], axis=1)
    acc = np.zeros(n_samples)
    for a in range(n):
        for b in range(a + 1, n):
            acc += sq[picks[:, a], picks[:, b]]
    v = np.sqrt(acc / n_pairs)
    return float(v.mean()), float((v * v).mean()), True


@_one_blas_thread
def semantic_affinity(
    embeddings: np.ndarray,
    concepts: Sequence[Mapping[str, Sequence[int]]],
    languages: Sequence[str] | None = None,
    *,
    metric: str = "cosine",
    collapse_eps: float = 1e-6,
    max_exact_tuples: int = 1_000_000,
    n_samples: int = 200_000,
    seed: int = 0,
) -> AffinityResult:
    """SA of the given concepts over `languages` (default: every language that occurs).

    `concepts[i]` maps a language to the row numbers (in `embeddings`) of the concept's
    variants in it; give one row per distinct word. Rows repeated within a concept and
    language count once; empty lists mean the language lacks the concept.
    """
    x = _prepare(embeddings, metric)
    if languages is None:
        languages = list(dict.fromkeys(lang for c in concepts for lang in c))
    languages = list(dict.fromkeys(languages))

    # Each concept's variant rows per language, in the order of `languages`.
    per_concept: list[list[tuple[str, list[int]]]] = []
    vocab: dict[str, dict[int, None]] = {lang: {} for lang in languages}
    for concept in concepts:
        groups = []
        for lang in languages:
            rows = list(dict.fromkeys(int(r) for r in concept.get(lang, ()) or ()))
            if rows:
                groups.append((lang, rows))
                vocab[lang].update(dict.fromkeys(rows))
        per_concept.append(groups)

    per_language = {
        lang: mean_pairwise(x[list(rows)], metric) for lang, rows in vocab.items() if len(rows) >= 2
    }
    used = [i for i, groups in enumerate(per_concept) if len(groups) >= 2]
    n_langs = len([lang for lang in languages if vocab[lang]])

    def empty(status: str, sa: float, sr: float, h: float = float("nan")) -> AffinityResult:
        return AffinityResult(
            semantic_affinity=sa, semantic_ratio=sr, sa_sem=0.0, sr_sem=0.0,
            horizontal_spread=h, horizontal_sem=0.0, vertical_spread=float("nan"), vertical_sem=0.0,
            semantic_affinity_concept_mean=sa, vertical_spread_concept_mean=float("nan"),
            n_concepts=len(used), n_tuples=0, n_languages=n_langs, status=status, metric=metric,
            per_language_spread=per_language, concept_vertical=[None] * len(per_concept),
            concept_tuples=[None] * len(per_concept),
        )

    if not used or not per_language:
        return empty(STATUS_NO_DATA, float("nan"), float("nan"))

    # Collapse: every vector (as the metric sees it) within eps of their mean, so all pairwise
    # distances are below 2·eps; O(n) instead of the reference's O(n²) pairwise maximum.
    all_rows = sorted({r for rows in vocab.values() for r in rows})
    pts = x[all_rows]
    spread_max = float(np.sqrt(((pts - pts.mean(0)) ** 2).sum(1)).max())
    h = float(np.mean(list(per_language.values())))
    if spread_max < collapse_eps or h <= collapse_eps:
        # As the reference: a collapsed model gets SA = 0 (SR infinite).
        return empty(STATUS_COLLAPSED, 0.0, float("inf"), h)

    rng = np.random.default_rng(seed)
    weights = np.zeros(len(used))
    means = np.zeros(len(used))
    mean_sqs = np.zeros(len(used))
    sampled_any = False
    concept_vertical: list[float | None] = [None] * len(per_concept)
    concept_tuples: list[float | None] = [None] * len(per_concept)
    for j, i in enumerate(used):
        groups = [x[rows] for _, rows in per_concept[i]]
        if len(groups) == 2:  # a language pair: the tuples are the variant pairs themselves
            d = _distances(groups[0], groups[1], metric)
            m, q = float(d.mean()), float((d * d).mean())
        elif metric == "cosine":
            m, q = _concept_moments_cosine(groups)
        else:
            m, q, sampled = _concept_moments_euclidean(groups, max_exact_tuples, n_samples, rng)
            sampled_any |= sampled
        weights[j] = float(math.prod(g.shape[0] for g in groups))
        means[j], mean_sqs[j] = m, q
        concept_vertical[i] = m
        concept_tuples[i] = weights[j]

    n_tuples = float(weights.sum())
    v = float((weights * means).sum() / n_tuples)
    # Sample variance of V_t over all tuples = (within-concept + between-concept sum of
    # squares) / (N - 1): stabler than sum(V²) - N·V².
    ss = float((weights * (np.maximum(mean_sqs - means**2, 0.0) + (means - v) ** 2)).sum())
    sem_v = math.sqrt(ss / (n_tuples - 1) / n_tuples) if n_tuples > 1 else 0.0
    h_values = np.array(list(per_language.values()))
    sem_h = float(h_values.std(ddof=1) / math.sqrt(len(h_values))) if len(h_values) > 1 else 0.0

    sr = v / h
    sa = 1.0 / (1.0 + sr)
    sem_sr = sr * math.sqrt((sem_v / v) ** 2 + (sem_h / h) ** 2) if v > 0 else 0.0
    sem_sa = sem_sr / (1.0 + sr) ** 2
    v_concepts = float(means.mean())
    return AffinityResult(
        semantic_affinity=sa, semantic_ratio=sr, sa_sem=sem_sa, sr_sem=sem_sr,
        horizontal_spread=h, horizontal_sem=sem_h, vertical_spread=v, vertical_sem=sem_v,
        semantic_affinity_concept_mean=1.0 / (1.0 + v_concepts / h),
        vertical_spread_concept_mean=v_concepts,
        n_concepts=len(used), n_tuples=int(round(n_tuples)) if n_tuples < 2**62 else int(n_tuples),
        n_languages=n_langs, status=STATUS_OK, metric=metric, per_language_spread=per_language,
        concept_vertical=concept_vertical, concept_tuples=concept_tuples, vertical_sampled=sampled_any,
    )


@_one_blas_thread
def affinity_matrix(
    embeddings: np.ndarray,
    concepts: Sequence[Mapping[str, Sequence[int]]],
    languages: Sequence[str],
    *,
    metric: str = "cosine",
    collapse_eps: float = 1e-6,
) -> np.ndarray:
    """SA of every language pair (symmetric; NaN on the diagonal and where there is no data).

    Entry (a, b) equals `semantic_affinity(embeddings, concepts, [a, b]).semantic_affinity`
    (tested), computed in one pass: a pair's tuples are its variant pairs, so V_ab is the
    k_a·k_b-weighted mean of each concept's block mean, and H_ab = (H_a + H_b) / 2
    (or the one that exists).
    """
    x = _prepare(embeddings, metric)
    languages = list(languages)
    n = len(languages)
    vocab: list[dict[int, None]] = [{} for _ in languages]
    weight = np.zeros((n, n))
    total = np.zeros((n, n))
    for concept in concepts:
        present, groups = [], []
        for i, lang in enumerate(languages):
            rows = list(dict.fromkeys(int(r) for r in concept.get(lang, ()) or ()))
            if rows:
                present.append(i)
                groups.append(x[rows])
                vocab[i].update(dict.fromkeys(rows))
        if len(present) < 2:
            continue
        blocks = _blocks(groups, metric)
        w = np.outer(blocks.sizes, blocks.sizes).astype(float)
        idx = np.ix_(present, present)
        weight[idx] += w
        total[idx] += w * blocks.mean
    h = np.array([mean_pairwise(x[list(v)], metric) if len(v) >= 2 else np.nan for v in vocab])
    # As in semantic_affinity: a language with under two words has no H_l and is left out of H.
    both = np.stack(np.broadcast_arrays(h[:, None], h[None, :]))
    with np.errstate(invalid="ignore"):
        pair_h = np.nansum(both, axis=0) / (~np.isnan(both)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        sa = 1.0 / (1.0 + (total / weight) / pair_h)
    sa[(pair_h <= collapse_eps) & (weight > 0)] = 0.0  # collapsed, as in semantic_affinity
    upper = np.triu_indices(n, 1)
    sa[upper[1], upper[0]] = sa[upper]  # exactly symmetric (block means differ in the last bit)
    np.fill_diagonal(sa, np.nan)
    return sa
