"""`build`: render index.html, README.md and leaderboard.json from the store."""

from __future__ import annotations

import json
from pathlib import Path

from mteb_xalign.leaderboard.aggregate import Leaderboard, load
from mteb_xalign.leaderboard.render_html import render_html
from mteb_xalign.leaderboard.render_markdown import render_markdown
from mteb_xalign.leaderboard.store import locked, write_files_atomically


def summary(board: Leaderboard) -> dict:
    """The table as data, for scripts (values as shown on the page)."""
    return {
        "columns": [{"id": c.id, "task": c.task, "key": c.key, "label": c.label, "scale": c.scale,
                     "description": c.title} for c in board.columns],
        "languages": board.languages,
        "models": [{"name": e.name, "revision": e.revision, "values": e.values, "tier": e.tier,
                    "max_at_r_norm_per_language": e.per_language,
                    "files": {task: path.as_posix() for task, path in sorted(e.files.items())}}
                   for e in board.entries],
    }


def build(leaderboard_dir: str | Path = "leaderboards") -> Leaderboard:
    """Write the three pages together (all or nothing) and return what they show."""
    root = Path(leaderboard_dir)
    with locked(root):
        board = load(root)
        write_files_atomically({
            root / "index.html": render_html(board).encode("utf-8"),
            root / "README.md": render_markdown(board).encode("utf-8"),
            root / "leaderboard.json": (json.dumps(summary(board), indent=2, ensure_ascii=False) + "\n").encode(),
        })
    return board
