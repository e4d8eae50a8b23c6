"""matplotlib set-up shared by every picture: headless backend, saving at an exact size."""

from __future__ import annotations

from pathlib import Path

from mteb_xalign.errors import UserError


def pyplot():
    """matplotlib.pyplot on the headless Agg backend, or a one-line error naming the extra to install."""
    try:
        import matplotlib  # deferred: matplotlib is slow to import
    except ImportError:
        raise UserError("plotting needs matplotlib (and phate, plotly): pip install 'mteb-xalign[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    return plt


def save(fig, output: Path, dpi: int) -> None:
    plt = pyplot()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=dpi)  # no bbox="tight": the size is exactly figsize x dpi
    plt.close(fig)
