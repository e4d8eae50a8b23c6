"""Errors that reach users: one class, printed by the CLI as a single clear line."""


class DataError(ValueError):
    """Bad input data. The message names the file and line (or text) at fault."""

    def __init__(self, message: str, *, path=None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


class UserError(Exception):
    """A bad command line or request: printed as one line, no traceback."""
