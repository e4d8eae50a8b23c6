"""Where the words go: concepts to draw, their 2-d coordinates (PHATE, or PCA as fallback)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from mteb_xalign.errors import UserError
from mteb_xalign.wordlists import WordList

#: PHATE builds a k-nearest-neighbour diffusion graph; with few points it degenerates (a line).
PHATE_KNN = 5
PHATE_MIN_POINTS = 20


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
    if method == "pca":
        return pca_2d(unit), "PCA", None
    if n < PHATE_MIN_POINTS:
        note = (f"PHATE needs a k-nearest-neighbour graph (knn={PHATE_KNN}); with {n} points "
                f"(< {PHATE_MIN_POINTS}) its map degenerates, so PCA is used instead.")
        return pca_2d(unit), "PCA", note
    try:
        import phate

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coords = phate.PHATE(
                n_components=2, knn=PHATE_KNN, knn_dist="cosine", mds_solver="smacof",
                random_state=seed, verbose=0, n_jobs=1,
            ).fit_transform(unit)
    except Exception as exc:  # noqa: BLE001 -- any PHATE failure: say so and draw PCA
        return pca_2d(unit), "PCA", f"PHATE failed ({type(exc).__name__}: {exc}); PCA is used instead."
    coords = np.asarray(coords, dtype=float)
    if not np.all(np.isfinite(coords)):
        return pca_2d(unit), "PCA", "PHATE returned non-finite coordinates; PCA is used instead."
    return coords, "PHATE", None


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
