"""SA of every language pair, on a diverging scale centred on 0.5 (no alignment).

Blue: translations closer than random words of one language (aligned); red: farther (below
chance). The scale is symmetric around 0.5, so equal colour strength means an equal distance
from "no alignment" on either side.
"""

from __future__ import annotations

import numpy as np

from mteb_xalign.plots.figure import pyplot

HEATMAP_SIZE = (11.0, 9.5)
NO_ALIGNMENT = 0.5


def colour_limits(matrix: np.ndarray) -> tuple[float, float]:
    """(vmin, vmax) symmetric around 0.5, wide enough for every finite cell (at least +-0.05)."""
    finite = matrix[np.isfinite(matrix)]
    reach = float(np.max(np.abs(finite - NO_ALIGNMENT))) if finite.size else 0.5
    reach = max(reach, 0.05)
    return NO_ALIGNMENT - reach, NO_ALIGNMENT + reach


def draw_heatmap(matrix: np.ndarray, languages: list[str], *, title: str):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=HEATMAP_SIZE)
    low, high = colour_limits(matrix)
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap="RdBu", vmin=low, vmax=high)
    ax.set_xticks(range(len(languages)), languages)
    ax.set_yticks(range(len(languages)), languages)
    ax.tick_params(labelsize=9)
    if len(languages) <= 30:
        size = 7 if len(languages) > 12 else 9
        strong = 0.55 * (high - NO_ALIGNMENT)  # dark cells get white text
        for i in range(len(languages)):
            for j in range(len(languages)):
                value = matrix[i, j]
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.2f}".lstrip("0") if 0 <= value < 1 else f"{value:.1f}",
                            ha="center", va="center", fontsize=size,
                            color="white" if abs(value - NO_ALIGNMENT) > strong else "black")
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("Semantic Affinity (0.5 = no alignment; blue = aligned, red = below chance)")
    bar.ax.axhline(NO_ALIGNMENT, color="black", linewidth=0.8)
    ax.set_title(title, fontsize=12)
    fig.tight_layout()
    return fig
