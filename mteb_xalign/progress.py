"""Progress on stderr, as mteb and sentence-transformers users expect it (tqdm).

Shown only when stderr is a terminal, and never when quiet: `XALIGN_QUIET=1` in the
environment, or `set_quiet()` (what `xalign run --quiet` calls). The same bars appear under
`mteb run`, because they come from `encoding.embed_texts`, which every task calls.
"""

from __future__ import annotations

import os
import sys
from typing import Any

QUIET_ENV = "XALIGN_QUIET"
_quiet: bool | None = None


def set_quiet(quiet: bool = True) -> None:
    """Silence (or, with False, allow) progress for this process, whatever XALIGN_QUIET says."""
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    if _quiet is not None:
        return _quiet
    return os.environ.get(QUIET_ENV, "").strip().lower() not in {"", "0", "false", "no", "off"}


def shown() -> bool:
    """Whether progress is shown: not quiet, and stderr is a terminal."""
    if is_quiet():
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def note(message: str) -> None:
    """One line of progress (e.g. what the cache already holds)."""
    if shown():
        print(message, file=sys.stderr, flush=True)


def bar(total: int, description: str, unit: str = "text") -> Any:
    """A tqdm bar counting `unit`s with rate and ETA; a do-nothing bar when progress is hidden."""
    from tqdm.auto import tqdm  # deferred: tqdm is slow to import

    return tqdm(total=total, desc=description, unit=unit, disable=not shown(), file=sys.stderr,
                leave=True, smoothing=0.1, **_width())


def _width() -> dict[str, Any]:
    # A terminal that reports no size (some pseudo-terminals) would get a bar of width 0.
    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    return {"dynamic_ncols": True} if columns > 0 else {"ncols": 100, "nrows": 20}
