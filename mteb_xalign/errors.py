"""Errors that reach users: printed by the CLI as their message (one clear line), no traceback."""


class ReportedError(Exception):
    """Base of every error whose message is written for users (`xalign` prints it, no traceback)."""

    exit_code = 2


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
    """A bad command line or request: printed as one line, no traceback."""


class ServiceError(ReportedError, RuntimeError):
    """A remote service (e.g. an embeddings API) could not do its part; the message says what and why."""

    exit_code = 1
