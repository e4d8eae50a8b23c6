"""Errors that reach users: printed by the CLI as their message (one clear line), no traceback.

Exit codes (argparse's and mteb's convention): 2 for a command line that does not parse or whose
options do not fit together (UsageError), 1 for everything refused or failed after that.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ReportedError(Exception):
    """Base of every error whose message is written for users (`xalign` prints it, no traceback)."""

    exit_code = 1


class DataError(ReportedError, ValueError):
    """Bad input data. The message names the file and line (or text) at fault."""

    def __init__(self, message: str, *, path=None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class UserError(ReportedError):
    """A request that cannot be done (unknown name, missing file, refused): one line, no traceback."""


class UsageError(UserError):
    """Options that do not fit together, which argparse cannot check: exit 2, as argparse's own errors."""

    exit_code = 2


class ServiceError(ReportedError, RuntimeError):
    """A remote service (e.g. an embeddings API) could not do its part; the message says what and why."""


def unknown_name(kind: str, name: str, known: Iterable[str], listing: str) -> UserError:
    """"unknown task 'X'; did you mean Y? (see xalign tasks)": the error for a name nobody registered."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return UserError(f"unknown {kind} {name!r}{hint} (see `{listing}`)")
