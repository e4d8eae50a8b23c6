"""The word map: every word a point coloured by language, translations linked, labels kept apart.

Labels are placed greedily, in display pixels: each label takes the nearest free spot around
its point (beside it, then on rings of growing radius) that covers no label placed before it
and no point, and stays inside the axes. A label that had to move away gets a thin leader line
back to its point; each label is an annotation whose anchor (`xy`) is its own point.

adjustText was tried first: its overlap search compares every overlapping pair with every
other one, so a dense cluster of ~120 labels (the centre of a real map) costs minutes per
iteration. The greedy placement is O(labels x candidates x labels) in numpy, deterministic,
and places no label on another while a free spot exists within `MAX_RINGS`.
"""

from __future__ import annotations

import warnings

import numpy as np

from mteb_xalign.plots.figure import pyplot
from mteb_xalign.plots.fonts import label_for
from mteb_xalign.plots.layout import Point
from mteb_xalign.wordlists import WordList

FIG_SIZE = (14.0, 10.5)  # inches; at --dpi 100 a 1400 x 1050 PNG
LABEL_SIZE = 8
MAX_RINGS = 40  # candidate rings around a point, one label height apart (vertically)
ANGLES = 16  # candidate positions per ring
MARKER_PX = 3.5  # half-size of the box a point's marker occupies


def language_colours(languages: list[str]) -> dict[str, tuple]:
    plt = pyplot()
    colours = plt.get_cmap("tab10" if len(languages) <= 10 else "tab20")
    return {lang: colours(i % colours.N) for i, lang in enumerate(languages)}


def draw_affinity_map(points: list[Point], words: WordList, languages: list[str], *, title: str,
                      method: str, show_links: bool = True):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIG_SIZE)
    colour_of = language_colours(languages)
    if show_links:
        _draw_links(ax, points)
    for lang in languages:
        mine = [p for p in points if p.language == lang]
        ax.scatter([p.x for p in mine], [p.y for p in mine], s=26, color=colour_of[lang], label=lang,
                   zorder=3, edgecolors="white", linewidths=0.4)
    ax.set_title(title, fontsize=12)
    ax.set_xlabel(f"{method} 1")
    ax.set_ylabel(f"{method} 2")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.margins(0.08)  # room for labels of points on the edge
    legend = ax.legend(title="language", loc="upper right", fontsize=9, framealpha=0.9)
    fig.tight_layout()  # the final axes box: label placement works in display coordinates
    labels = [label_for(p.word, words.concepts[p.concept].gloss, p.language) for p in points]
    positions, moved = _spread_labels(fig, ax, points, labels, keep_clear=[legend])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a glyph missing despite the coverage check must not spam
        for p, (text, family), (tx, ty), led in zip(points, labels, positions, moved):
            colour = colour_of[p.language]
            ax.annotate(
                text, xy=(p.x, p.y), xytext=(tx, ty), textcoords="data", ha="center", va="center",
                fontsize=LABEL_SIZE, color=colour, fontfamily=[family or "DejaVu Sans", "DejaVu Sans"], zorder=4,
                bbox={"boxstyle": "round,pad=0.08", "facecolor": "white", "edgecolor": "none", "alpha": 0.7},
                arrowprops={"arrowstyle": "-", "lw": 0.4, "color": colour, "shrinkA": 0, "shrinkB": 2}
                if led else None,
            )
    return fig


def _draw_links(ax, points: list[Point]) -> None:
    by_concept: dict[int, list[Point]] = {}
    for p in points:
        by_concept.setdefault(p.concept, []).append(p)
    for group in by_concept.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if a.language != b.language:
                    ax.plot([a.x, b.x], [a.y, b.y], color="0.6", linewidth=0.5, alpha=0.4, zorder=1)


def _spread_labels(fig, ax, points: list[Point], labels: list[tuple[str, str | None]],
                   keep_clear=()) -> tuple[list[tuple[float, float]], list[bool]]:
    """Label centres (data coordinates), placed as the module doc says, and which ones moved away;
    no label goes over the artists in `keep_clear` (the legend)."""
    renderer = fig.canvas.get_renderer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probes = [ax.text(0, 0, text, fontsize=LABEL_SIZE, fontfamily=[family or "DejaVu Sans", "DejaVu Sans"])
                  for text, family in labels]
        sizes = np.array([[b.width, b.height] for b in (t.get_window_extent(renderer) for t in probes)]) + 2.0
    for t in probes:
        t.remove()
    anchors = ax.transData.transform([(p.x, p.y) for p in points])
    frame = ax.get_window_extent(renderer)
    clear = [a.get_window_extent(renderer) for a in keep_clear]
    centres, beside = place_labels(anchors, sizes, (frame.x0, frame.y0, frame.x1, frame.y1),
                                   np.array([[b.x0, b.y0, b.x1, b.y1] for b in clear]).reshape(-1, 4))
    return [tuple(map(float, c)) for c in ax.transData.inverted().transform(centres)], [not b for b in beside]


def place_labels(anchors: np.ndarray, sizes: np.ndarray, frame: tuple[float, float, float, float],
                 keep_clear: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(centres, beside): each label's centre in pixels, the first free candidate around its anchor
    (see the module doc), and whether it sits right beside its point (else it needs a leader line).

    anchors: (n, 2) points; sizes: (n, 2) label width and height; frame: (x0, y0, x1, y1) of the axes;
    keep_clear: (m, 4) boxes no label may cover.
    """
    n = len(anchors)
    markers = np.hstack([anchors - MARKER_PX, anchors + MARKER_PX])  # (x0, y0, x1, y1)
    if keep_clear is not None:
        markers = np.vstack([markers, keep_clear])
    placed = np.empty((0, 4))
    centres = np.empty((n, 2))
    beside_point = np.zeros(n, dtype=bool)
    angles = np.linspace(0, 2 * np.pi, ANGLES, endpoint=False)
    for i, ((px, py), (w, h)) in enumerate(zip(anchors, sizes)):
        gap = MARKER_PX + 1
        beside = np.array([[px + gap + w / 2, py], [px - gap - w / 2, py], [px, py + gap + h / 2], [px, py - gap - h / 2]])
        rings = [np.column_stack([px + r * (w / 2 + gap) * np.cos(angles), py + r * (h + gap) * np.sin(angles)])
                 for r in range(2, MAX_RINGS + 2)]
        candidates = np.vstack([beside, *rings])
        boxes = np.column_stack([candidates - (w / 2, h / 2), candidates + (w / 2, h / 2)])
        inside = ((boxes[:, 0] >= frame[0]) & (boxes[:, 1] >= frame[1]) & (boxes[:, 2] <= frame[2])
                  & (boxes[:, 3] <= frame[3]))
        obstacles = np.vstack([placed, markers])
        clash = _overlap_area(boxes, obstacles).sum(axis=1)
        free = np.flatnonzero((clash == 0) & inside)
        best = free[0] if free.size else int(np.argmin(np.where(inside, clash, np.inf)) if inside.any() else 0)
        centres[i] = candidates[best]
        beside_point[i] = best < len(beside)
        placed = np.vstack([placed, boxes[best]])
    return centres, beside_point


def _overlap_area(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) overlap areas of boxes (x0, y0, x1, y1)."""
    dx = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    dy = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(dx, 0, None) * np.clip(dy, 0, None)
