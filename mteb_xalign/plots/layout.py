"""Where the words go: concepts to draw, their 2-d coordinates.

Reductions, as Semanscope draws its maps: PHATE, UMAP (umap-learn), t-SNE (scikit-learn),
PaCMAP, TriMap and PCA, each seeded (`seed`: the same input gives the same map). Every method
but PCA needs a package of the `plot` extra; a missing one is refused in one line naming it
(`require_method`, before any model loads). With too few points for a method's neighbour
graph, or when it fails, PCA is drawn instead and a note says so.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from dataclasses import dataclass

import numpy as np

from mteb_xalign.errors import UserError
from mteb_xalign.wordlists import WordList

#: PHATE builds a k-nearest-neighbour diffusion graph; with few points it degenerates (a line).
PHATE_KNN = 5
PHATE_MIN_POINTS = 20
#: method -> (the name drawn, the module it imports, the PyPI package that has it)
METHODS = {
    "phate": ("PHATE", "phate", "phate"),
    "umap": ("UMAP", "umap", "umap-learn"),
    "tsne": ("t-SNE", "sklearn.manifold", "scikit-learn"),
    "pacmap": ("PaCMAP", "pacmap", "pacmap"),
    "trimap": ("TriMap", "trimap", "trimap"),
    "pca": ("PCA", None, None),
}
#: below this many points the neighbour-graph methods degenerate: PCA is drawn instead
MIN_POINTS = 20


def require_method(method: str) -> None:
    """Refuse, in one line, a method that is unknown or whose package is not installed."""

    if method not in METHODS:
        raise UserError(f"unknown map method {method!r}: use one of {', '.join(METHODS)}")
    _, module, package = METHODS[method]
    if module is not None and importlib.util.find_spec(module.split(".")[0]) is None:
        raise UserError(f"--method {method} needs the package {package!r}, which is not installed: "
                        f"pip install {package} (or mteb-xalign[plot])")


def _seed_numba(seed: int) -> None:
    import numba  # deferred: numba is slow to import

    @numba.njit
    def seed_inside(value):
        np.random.seed(value)  # inside compiled code this seeds numba's generator, not numpy's

    seed_inside(seed)


def _reduce(method: str, unit: np.ndarray, seed: int) -> np.ndarray:
    """2-d coordinates by `method` (not PCA) of unit vectors; deterministic for a given seed."""
    n = unit.shape[0]
    if method == "phate":
        import phate  # phate may be missing (an extra)

        return phate.PHATE(n_components=2, knn=PHATE_KNN, knn_dist="cosine", mds_solver="smacof",
                           random_state=seed, verbose=0, n_jobs=1).fit_transform(unit)
    if method == "umap":
        import umap  # umap may be missing (an extra)

        # a random_state makes UMAP single-threaded and reproducible
        return umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), metric="cosine", random_state=seed,
                         n_jobs=1).fit_transform(unit)
    if method == "tsne":
        from sklearn.manifold import TSNE  # deferred: sklearn is slow to import

        # PCA initialisation: the same map for every seed (the seed only matters with init="random")
        return TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), metric="cosine", init="pca",
                    random_state=seed).fit_transform(unit)
    if method == "pacmap":
        import pacmap  # pacmap may be missing (an extra)

        log = logging.getLogger("pacmap.pacmap")  # without its PCA step it warns "may be slow" (100s of words: not)
        level = log.level
        log.setLevel(logging.ERROR)
        try:
            return pacmap.PaCMAP(n_components=2, n_neighbors=min(10, n - 2), random_state=seed,
                                 apply_pca=False).fit_transform(unit, init="pca")
        finally:
            log.setLevel(level)
    if method == "trimap":
        # deferred: numba is slow to import; trimap may be missing (an extra)
        import numba
        import trimap

        # TriMap takes no seed: it samples triplets with numba's own generator inside parallel
        # loops (one stream per thread). One numba thread, seeded, makes the sampling repeatable.
        previous = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            _seed_numba(seed)
            return trimap.TRIMAP(n_dims=2, n_inliers=min(12, n - 2), distance="angular",
                                 apply_pca=False).fit_transform(unit.astype(np.float32))
        finally:
            numba.set_num_threads(previous)
    raise ValueError(method)


@dataclass(frozen=True)
class Point:
    word: str
    language: str
    concept: int  # index into the word list's concepts
    x: float
    y: float


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    centred = vectors - vectors.mean(0)
    if centred.shape[0] < 2:
        return np.zeros((centred.shape[0], 2))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    coords = centred @ vt[:2].T
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    return coords


def layout_2d(vectors: np.ndarray, *, method: str = "phate", seed: int = 0) -> tuple[np.ndarray, str, str | None]:
    """2-d coordinates, row i for vector i; returns (coords, method used, note or None)."""
    n = vectors.shape[0]
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    require_method(method)
    if method == "pca":
        return pca_2d(unit), "PCA", None
    name = METHODS[method][0]
    least = PHATE_MIN_POINTS if method == "phate" else MIN_POINTS
    if n < least:
        note = (f"{name} needs a nearest-neighbour graph; with {n} points (< {least}) its map "
                "degenerates, so PCA is used instead.")
        return pca_2d(unit), "PCA", note
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coords = _reduce(method, unit, seed)
    except Exception as exc:  # noqa: BLE001 -- any failure of the reduction: say so and draw PCA
        return pca_2d(unit), "PCA", f"{name} failed ({type(exc).__name__}: {exc}); PCA is used instead."
    coords = np.asarray(coords, dtype=float)
    if coords.shape != (n, 2) or not np.all(np.isfinite(coords)):
        return pca_2d(unit), "PCA", f"{name} returned no finite 2-d coordinates; PCA is used instead."
    return coords, name, None


def select_concepts(words: WordList, languages: list[str], n: int) -> list[int]:
    """n concepts that every chosen language has, evenly spread over the list.

    Word lists are often ordered by kind (Swadesh starts with 30 pronouns and numerals), so
    the first n would show one corner of the vocabulary.
    """
    chosen = [i for i, c in enumerate(words.concepts) if all(c.words.get(lang) for lang in languages)]
    if len(chosen) <= n:
        return chosen
    picks = np.linspace(0, len(chosen) - 1, n).round().astype(int)
    return [chosen[i] for i in dict.fromkeys(picks.tolist())]


def build_points(words: WordList, concepts: list[int], languages: list[str],
                 vectors: dict[tuple[str, str], np.ndarray], *, method: str = "phate",
                 seed: int = 0) -> tuple[list[Point], str, str | None]:
    """One point per (concept, language, variant), laid out together; point i is entry i.
    `vectors` maps (language, word) to the word's vector."""
    entries = [(words.concepts[i].words[lang][v], lang, i) for i in concepts for lang in languages
               for v in range(len(words.concepts[i].words.get(lang, [])))]
    if not entries:
        raise UserError(f"no concept has words in all of {languages}")
    matrix = np.stack([vectors[(lang, word)] for word, lang, _ in entries])
    coords, used, note = layout_2d(matrix, method=method, seed=seed)
    points = [Point(word, lang, concept, float(x), float(y))
              for (word, lang, concept), (x, y) in zip(entries, coords)]
    return points, used, note
