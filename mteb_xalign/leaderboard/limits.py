"""Size limits: a submission is a few result files of a few hundred KB, never more.

The largest real result (MultiRefCLIR, 22 subsets, all keys) is about 130 KB; SA's `all`
subset carries a 24x24 matrix (under 50 KB). The limits leave 30x headroom and stop a
50 MB file (or a folder of thousands) before it is parsed or stored.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

MAX_RESULT_BYTES = 4 * 1024 * 1024  # one <Task>.json
MAX_META_BYTES = 256 * 1024  # model_meta.json
MAX_RUN_SETTINGS_BYTES = 1024 * 1024  # run_settings.jsonl
MAX_PER_QUERY_BYTES = 8 * 1024 * 1024  # <Task>.per_query.npz (MultiRefCLIR's is about 0.5 MB)
MAX_SUBMISSION_BYTES = 64 * 1024 * 1024  # everything under the submitted folder
MAX_FILES = 2000  # JSON files under the submitted folder
MAX_NAME_CHARS = 200  # model name (HF allows 96 per part: org/name fits)
MAX_REVISION_CHARS = 100  # a git sha is 40
MAX_JSON_DEPTH = 32  # a result nests 6 deep (scores > split > subset > matrix > row); json recurses per level
MAX_NUMBER_CHARS = 100  # a float64 needs 25; Python refuses ints above 4,300 digits with ValueError


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


class JSONRefused(ValueError):
    """A submitted JSON text that is not parsed: its one-line message says why."""


# A JSON string (escapes included), and a number-like run of characters outside strings.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_LONG_NUMBER = re.compile(rb"[-+0-9.eE]{%d,}" % (MAX_NUMBER_CHARS + 1))


def parse_json(raw: bytes) -> Any:
    """json.loads with limits checked first: nesting and number length, which json.loads meets
    only as RecursionError or ValueError (or, nested a little less deep, our own recursive
    checks would). Raises JSONRefused with one line."""
    bare = _STRING.sub(b'""', raw)  # brackets and digits inside strings are text
    codes = np.frombuffer(bare, dtype=np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}")))
    depth = int(np.cumsum(steps).max()) if len(steps) else 0
    if depth > MAX_JSON_DEPTH:
        raise JSONRefused(f"nested {depth} levels deep; a leaderboard file may nest at most {MAX_JSON_DEPTH}")
    long_number = _LONG_NUMBER.search(bare)
    if long_number:
        number = long_number.group().decode("ascii")
        raise JSONRefused(f"holds a number written with {len(number):,} characters (starts {number[:20]!r}); "
                          f"at most {MAX_NUMBER_CHARS} are accepted")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise JSONRefused(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise JSONRefused(f"not valid JSON ({exc})") from None
    except (ValueError, RecursionError) as exc:  # not expected after the checks above
        raise JSONRefused(f"not valid JSON ({' '.join(str(exc).split())})") from None
