"""`build`: render index.html, README.md and leaderboard.json from the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from mteb_xalign.leaderboard import registry
from mteb_xalign.leaderboard.board import Board, add_uncertainty, load_board
from mteb_xalign.leaderboard.render_html import render_html
from mteb_xalign.leaderboard.render_markdown import render_markdown
from mteb_xalign.leaderboard.store import locked, write_files_atomically
from mteb_xalign.leaderboard.uncertainty import BANDS, INTERVALS, METHOD_WORDS


def summary(board: Board) -> dict:
    """The table as data, for scripts (column values as shown on the page)."""
    return {
        "columns": [{"id": c.id, "task": c.task, "key": c.key, "label": c.label, "scale": c.scale,
                     "description": c.title} for c in board.columns],
        "uncertainty": {"intervals": INTERVALS[1], "rank_bands": BANDS[1], "method": METHOD_WORDS,
                        "not_compared": board.notes},
        "tasks": {name: {"main_score": v.main_score, "scale": v.scale} for name, v in board.tasks.items()},
        "models": [{"name": r.name, "revision": r.revision, "rank": r.rank, "borda_points": r.borda_points,
                    "values": r.values, "per_language": r.per_language, "task_scores": r.task_scores, "subset_scores": r.subset_scores,
                    "flags": r.flags,
                    "intervals": r.intervals, "interval_notes": r.interval_notes, "task_intervals": r.task_intervals,
                    "subset_intervals": r.subset_intervals,
                    "per_language_intervals": r.per_language_intervals,
                    "rank_band": None if r.band is None else [r.band.low, r.band.high],
                    "task_rank_bands": {t: [b.low, b.high] for t, b in sorted(r.task_bands.items())},
                    "verification": vars(r.verification), "provenance": {t: vars(p) for t, p in sorted(r.provenance.items())},
                    "files": {task: path.as_posix() for task, path in sorted(r.files.items())}}
                   for r in board.rows],
    }


def build(leaderboard_dir: str | Path = "leaderboards", *, get_task: Callable[[str], Any] | None = None,
          known_models: dict[str, str | None] | None = None, task_order: list[str] | None = None) -> Board:
    """Write the three pages together (all or nothing) and return what they show.

    By default the tasks, their order and the known model names come from the registry
    (mteb and our plugins); tests pass their own.
    """
    root = Path(leaderboard_dir)
    with locked(root):
        board = add_uncertainty(load_board(root, get_task or registry.registered_task,
                                           registry.registered_models() if known_models is None else known_models,
                                           registry.registered_task_order() if task_order is None else task_order))
        write_files_atomically({
            root / "index.html": render_html(board).encode("utf-8"),
            root / "README.md": render_markdown(board).encode("utf-8"),
            root / "leaderboard.json": (json.dumps(summary(board), indent=2, ensure_ascii=False) + "\n").encode(),
        })
    return board
