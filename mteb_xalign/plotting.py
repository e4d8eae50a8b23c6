"""`xalign plot`: pictures of word-level alignment.

- `xalign plot affinity -m MODEL --languages en,zh,de --output fig.png`: a PHATE map of the
  words of N concepts, coloured by language, the translations of a concept linked by thin
  lines, every point labelled with its word; SA over those languages in the title.
- `xalign plot heatmap -m MODEL --output sa.png`: SA of every language pair.

Embeddings come through `embed_texts` with the SemanticAffinity task's metadata, so they
share the embedding cache with `xalign run -t SemanticAffinity`.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from mteb_xalign.errors import UserError
from mteb_xalign.metrics.affinity import affinity_matrix, semantic_affinity
from mteb_xalign.wordlists import WordList, read_wordlist

#: PHATE builds a k-nearest-neighbour diffusion graph; with few points it degenerates (a line).
PHATE_KNN = 5
PHATE_MIN_POINTS = 20
FIG_SIZE = (12.0, 9.0)  # inches; at --dpi 100 a 1200 x 900 PNG
HEATMAP_SIZE = (11.0, 9.5)

# Fonts tried after DejaVu Sans (which covers Latin, Greek, Cyrillic, Hebrew and Arabic letters).
_EXTRA_FONTS = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK KR", "Noto Sans SC", "Source Han Sans SC",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN", "IPAGothic",
    "NanumGothic", "Noto Sans Devanagari", "Lohit Devanagari", "Noto Sans Thai", "TlwgTypist",
    "Noto Sans Arabic", "Noto Sans Hebrew", "Unifont",
)


@dataclass(frozen=True)
class Point:
    word: str
    language: str
    concept: int  # index into the word list's concepts
    x: float
    y: float


# -- fonts ------------------------------------------------------------------------------
@cache
def font_families() -> tuple[tuple[str, ...], tuple[frozenset[int], ...]]:
    """Installed font families to draw labels with (DejaVu Sans first) and the code points each covers."""
    from fontTools.ttLib import TTFont
    from matplotlib import font_manager

    # Fonts installed after matplotlib built its font cache are not in it: add them now.
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                font_manager.fontManager.addfont(path)
            except Exception:  # noqa: BLE001
                pass
    by_name: dict[str, str] = {}
    for entry in font_manager.fontManager.ttflist:
        by_name.setdefault(entry.name, entry.fname)
    families, coverage = [], []
    for name in ("DejaVu Sans", *_EXTRA_FONTS):
        path = by_name.get(name)
        if path is None:
            continue
        try:
            font = TTFont(path, fontNumber=0, lazy=True)
            cmap = frozenset(font.getBestCmap() or {})
        except Exception:  # noqa: BLE001 -- an unreadable font is simply not used
            continue
        families.append(name)
        coverage.append(cmap)
    return tuple(families), tuple(coverage)


def can_draw(text: str) -> bool:
    """True when every character of `text` is in one of the installed label fonts (no tofu)."""
    _, coverage = font_families()
    return all(ch.isspace() or any(ord(ch) in c for c in coverage) for ch in text)


def label_for(word: str, gloss: str, language: str) -> str:
    """The word itself, or "gloss [lang]" when no installed font has its glyphs."""
    if can_draw(word):
        return word
    short = gloss.split("(")[0].strip() or gloss  # "you (singular)" -> "you"
    return f"{short} [{language}]"


# -- layout -----------------------------------------------------------------------------
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
    except Exception as exc:  # noqa: BLE001
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


def build_points(words: WordList, concepts: list[int], languages: list[str], vectors: dict[str, np.ndarray],
                 *, method: str = "phate", seed: int = 0) -> tuple[list[Point], str, str | None]:
    """One point per (concept, language, variant), laid out together; point i is entry i."""
    entries = [(words.concepts[i].words[lang][v], lang, i) for i in concepts for lang in languages
               for v in range(len(words.concepts[i].words.get(lang, [])))]
    if not entries:
        raise UserError(f"no concept has words in all of {languages}")
    matrix = np.stack([vectors[word] for word, _, _ in entries])
    coords, used, note = layout_2d(matrix, method=method, seed=seed)
    points = [Point(word, lang, concept, float(x), float(y))
              for (word, lang, concept), (x, y) in zip(entries, coords)]
    return points, used, note


# -- drawing ----------------------------------------------------------------------------
def draw_affinity_map(points: list[Point], words: WordList, languages: list[str], *, title: str,
                      method: str, show_links: bool = True):
    """The figure; each label is placed at its own point's coordinates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families, _ = font_families()
    fig, ax = plt.subplots(figsize=FIG_SIZE)
    colours = plt.get_cmap("tab10" if len(languages) <= 10 else "tab20")
    colour_of = {lang: colours(i % colours.N) for i, lang in enumerate(languages)}
    if show_links:
        by_concept: dict[int, list[Point]] = {}
        for p in points:
            by_concept.setdefault(p.concept, []).append(p)
        for group in by_concept.values():
            for a in range(len(group)):
                for b in range(a + 1, len(group)):
                    if group[a].language != group[b].language:
                        ax.plot([group[a].x, group[b].x], [group[a].y, group[b].y], color="0.6",
                                linewidth=0.5, alpha=0.45, zorder=1)
    for lang in languages:
        mine = [p for p in points if p.language == lang]
        ax.scatter([p.x for p in mine], [p.y for p in mine], s=28, color=colour_of[lang], label=lang,
                   zorder=3, edgecolors="white", linewidths=0.4)
    texts = [label_for(p.word, words.concepts[p.concept].gloss, p.language) for p in points]
    offsets = label_offsets(fig, ax, points, texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a glyph missing despite the check must not spam the user
        for p, text, (dx, dy) in zip(points, texts, offsets):
            moved = (dx, dy) != (3, 3)
            ax.annotate(text, xy=(p.x, p.y), xytext=(dx, dy), textcoords="offset points", fontsize=8,
                        color=colour_of[p.language], fontfamily=list(families), zorder=4,
                        arrowprops={"arrowstyle": "-", "lw": 0.3, "color": colour_of[p.language],
                                    "shrinkA": 0, "shrinkB": 2} if moved else None)
    ax.set_title(title, fontsize=12)
    ax.set_xlabel(f"{method} 1")
    ax.set_ylabel(f"{method} 2")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(title="language", loc="best", fontsize=9)
    fig.tight_layout()
    return fig


def label_offsets(fig, ax, points: list[Point], texts: list[str], size: float = 8.0) -> list[tuple[float, float]]:
    """Offsets (in points) that keep labels from covering one another in dense clusters.

    Greedy: each label starts up-right of its point and is moved up or down in steps of one
    line until its (estimated) box overlaps no label placed before; a label that moved gets a
    thin leader line to its point. The anchor (xy) of every label stays its own point.
    """
    ax.margins(0.06)
    ax.autoscale_view()
    fig.tight_layout()  # the final axes box, so display positions are the ones drawn
    to_pt = 72.0 / fig.dpi
    anchors = ax.transData.transform([(p.x, p.y) for p in points]) * to_pt  # display points
    frame = ax.get_window_extent()
    top = frame.y1 * to_pt
    placed: list[tuple[float, float, float, float]] = []
    out = []
    steps = [0] + [k * sign for k in range(1, 7) for sign in (1, -1)]
    for (ax_x, ax_y), text in zip(anchors, texts):
        width = 0.6 * size * max(len(text), 1) * (1.7 if any(ord(c) > 0x2E80 for c in text) else 1.0)
        height = size * 1.15
        for step in steps:
            dy = 3 + step * height
            box = (ax_x + 3, ax_y + dy, ax_x + 3 + width, ax_y + dy + height)
            if box[3] > top and step != 0:
                continue  # would leave the axes (and run into the title)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                break
        else:
            dy = 3
            box = (ax_x + 3, ax_y + 3, ax_x + 3 + width, ax_y + 3 + height)
        placed.append(box)
        out.append((3.0, float(dy)))
    return out


def draw_heatmap(matrix: np.ndarray, languages: list[str], *, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=HEATMAP_SIZE)
    masked = np.ma.masked_invalid(matrix)
    finite = matrix[np.isfinite(matrix)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    image = ax.imshow(masked, cmap="viridis", vmin=low, vmax=high)
    ax.set_xticks(range(len(languages)), languages)
    ax.set_yticks(range(len(languages)), languages)
    ax.tick_params(labelsize=9)
    if len(languages) <= 30:
        size = 7 if len(languages) > 12 else 9
        mid = (low + high) / 2
        for i in range(len(languages)):
            for j in range(len(languages)):
                if np.isfinite(matrix[i, j]):
                    ax.text(j, i, f"{matrix[i, j]:.2f}"[1:] if matrix[i, j] < 1 else "1.0", ha="center",
                            va="center", fontsize=size, color="black" if matrix[i, j] > mid else "white")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="Semantic Affinity (0.5 = no alignment)")
    ax.set_title(title, fontsize=12)
    fig.tight_layout()
    return fig


# -- embeddings -------------------------------------------------------------------------
def _task_class(data: Path | None):
    from mteb_xalign import mteb_bridge

    # mteb first: its import hook imports the task modules, which must not be mid-import then.
    mteb_bridge.ensure_registered()
    from mteb_xalign.tasks import DATASETS
    from mteb_xalign.tasks.semantic_affinity import bundled_semantic_affinity, semantic_affinity_task

    if data is None:
        return bundled_semantic_affinity(DATASETS)
    return semantic_affinity_task(data, data.stem)


def embed_words(model_name: str, texts: list[str], task_metadata, *, device: str | None = None,
                batch_size: int | None = None) -> dict[str, np.ndarray]:
    from mteb_xalign import mteb_bridge
    from mteb_xalign.encoding import embed_texts

    mteb_bridge.ensure_registered()
    import mteb

    try:
        meta = mteb.get_model_meta(model_name)
    except KeyError as exc:
        raise UserError(str(exc).strip("'\"")) from None
    from mteb_xalign.device import resolve_device

    model = meta.load_model(device=resolve_device(device))
    kwargs = {"batch_size": batch_size} if batch_size else {}
    vectors = embed_texts(model, texts, prompt_type=None, task_metadata=task_metadata, encode_kwargs=kwargs)
    return dict(zip(texts, vectors))


def _languages_arg(raw: str | None, words: WordList) -> list[str]:
    if not raw:
        return list(words.languages)
    from mteb_xalign.languages import normalise

    out = []
    for item in raw.split(","):
        lang = normalise(item) if item.strip() else None
        if lang is None or lang not in words.languages:
            raise UserError(f"--languages: {item.strip()!r} is not a language of {words.path.name} "
                            f"({', '.join(words.languages)})")
        out.append(lang)
    if len(out) < 2:
        raise UserError("--languages: give at least two languages")
    return list(dict.fromkeys(out))


def _concept_rows(words: WordList, languages: list[str], row: dict[str, int]):
    return [{lang: [row[w] for w in c.words.get(lang, [])] for lang in languages} for c in words.concepts]


def _dataset_name(words: WordList, data: Path | None) -> str:
    return "Swadesh-207" if data is None else words.path.name


# -- commands ---------------------------------------------------------------------------
def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("plotting needs matplotlib (and phate): pip install 'mteb-xalign[plot]'") from None


def plot_affinity(args: argparse.Namespace) -> int:
    _require_matplotlib()
    task_cls = _task_class(args.data)
    words = read_wordlist(task_cls.data_path)
    languages = _languages_arg(args.languages, words)
    if args.concepts < 1:
        raise UserError("--concepts must be at least 1")
    texts = words.unique_words(languages)
    vectors = embed_words(args.model, texts, task_cls.metadata, device=args.device, batch_size=args.batch_size)
    row = {t: i for i, t in enumerate(texts)}
    matrix = np.stack([vectors[t] for t in texts])
    sa = semantic_affinity(matrix, _concept_rows(words, languages, row), languages)

    chosen = select_concepts(words, languages, args.concepts)
    points, method, note = build_points(words, chosen, languages, vectors, method=args.method, seed=args.seed)
    if note:
        print(f"note: {note}", file=sys.stderr)
    undrawable = sorted({p.language for p in points if not can_draw(p.word)})
    if undrawable:
        print(f"note: no installed font has the glyphs of {', '.join(undrawable)}; those words are labelled "
              "'gloss [lang]' (install a CJK/Indic/Thai font, e.g. Debian's fonts-noto-cjk, to see them)",
              file=sys.stderr)
    sa_text = f"{sa.semantic_affinity:.3f} ± {sa.sa_sem:.3f}" if sa.status == "ok" else sa.status
    title = (f"{args.model}\nSA({', '.join(languages)}) = {sa_text} over {sa.n_concepts} concepts of "
             f"{_dataset_name(words, args.data)}  ·  {method} map of {len(chosen)} concepts")
    fig = draw_affinity_map(points, words, languages, title=title, method=method, show_links=not args.no_links)
    _save(fig, args.output, args.dpi)
    print(f"{args.output}: SA = {sa_text} ({method}, {len(points)} words)")
    return 0


def plot_heatmap(args: argparse.Namespace) -> int:
    _require_matplotlib()
    task_cls = _task_class(args.data)
    words = read_wordlist(task_cls.data_path)
    languages = _languages_arg(args.languages, words)
    texts = words.unique_words(languages)
    vectors = embed_words(args.model, texts, task_cls.metadata, device=args.device, batch_size=args.batch_size)
    row = {t: i for i, t in enumerate(texts)}
    matrix_vectors = np.stack([vectors[t] for t in texts])
    matrix = affinity_matrix(matrix_vectors, _concept_rows(words, languages, row), languages)
    finite = matrix[np.isfinite(matrix)]
    mean = float(finite.mean()) if finite.size else math.nan
    title = f"{args.model}: Semantic Affinity by language pair ({_dataset_name(words, args.data)}); mean {mean:.3f}"
    fig = draw_heatmap(matrix, languages, title=title)
    _save(fig, args.output, args.dpi)
    print(f"{args.output}: {len(languages)} languages, mean pair SA {mean:.3f}")
    return 0


def _save(fig, output: Path, dpi: int) -> None:
    import matplotlib.pyplot as plt

    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=dpi)  # no bbox="tight": the size is exactly figsize x dpi
    plt.close(fig)


def add_parser(subparsers) -> None:
    plot = subparsers.add_parser("plot", help="pictures: PHATE word maps and SA heatmaps")
    kinds = plot.add_subparsers(dest="plot_kind", required=True)

    def common(p):
        p.add_argument("-m", "--model", required=True, help="model name (see `xalign models`)")
        p.add_argument("--output", "-o", type=Path, required=True, help="PNG file to write")
        p.add_argument("--data", type=Path, help="word list (Swadesh-layout JSONL or Semanscope CSV); "
                       "default: the shipped Swadesh-207")
        p.add_argument("--dpi", type=int, default=100)
        p.add_argument("--device", default=None)
        p.add_argument("--batch-size", type=int, default=None)

    a = kinds.add_parser("affinity", help="PHATE map of translations, coloured by language")
    common(a)
    a.add_argument("--languages", default="en,zh,de", help="comma-separated (default en,zh,de)")
    a.add_argument("--concepts", type=int, default=30, help="how many concepts to draw (default 30)")
    a.add_argument("--method", choices=("phate", "pca"), default="phate")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--no-links", action="store_true", help="do not link translations")
    a.set_defaults(func=plot_affinity)

    h = kinds.add_parser("heatmap", help="SA of every language pair")
    common(h)
    h.add_argument("--languages", default=None, help="comma-separated (default: all of the word list)")
    h.set_defaults(func=plot_heatmap)
