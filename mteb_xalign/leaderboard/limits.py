"""Size limits: a submission is a few result files of a few hundred KB, never more.

The largest real result (MultiRefCLIR, 22 subsets, all keys) is about 130 KB; SA's `all`
subset carries a 24x24 matrix (under 50 KB). The limits leave 30x headroom and stop a
50 MB file (or a folder of thousands) before it is parsed or stored.
"""

from __future__ import annotations

from pathlib import Path

MAX_RESULT_BYTES = 4 * 1024 * 1024  # one <Task>.json
MAX_META_BYTES = 256 * 1024  # model_meta.json
MAX_RUN_SETTINGS_BYTES = 1024 * 1024  # run_settings.jsonl
MAX_PER_QUERY_BYTES = 8 * 1024 * 1024  # <Task>.per_query.npz (MultiRefCLIR's is about 0.5 MB)
MAX_SUBMISSION_BYTES = 64 * 1024 * 1024  # everything under the submitted folder
MAX_FILES = 2000  # JSON files under the submitted folder
MAX_NAME_CHARS = 200  # model name (HF allows 96 per part: org/name fits)
MAX_REVISION_CHARS = 100  # a git sha is 40


def too_big(path: Path, limit: int) -> str | None:
    """A message when `path` is larger than `limit` bytes, else None."""
    size = path.stat().st_size
    if size <= limit:
        return None
    return f"file is {_human(size)}, larger than the {_human(limit)} a leaderboard file may be"


def _human(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"
