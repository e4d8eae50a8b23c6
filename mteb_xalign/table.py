"""The one plain-text table printer of the command line (`xalign models`, `xalign run`, ...)."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(header: Sequence[object], rows: Sequence[Sequence[object]], *, align_right: bool = False) -> str:
    """Columns padded to their widest cell; with `align_right`, every column but the first is
    right-aligned (numbers)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]

    def line(row: list[str]) -> str:
        return "  ".join(cell.rjust(w) if align_right and i else cell.ljust(w)
                         for i, (cell, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join(line(row) for row in cells)
