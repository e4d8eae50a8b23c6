"""Reading JSON and JSON Lines with errors that name the file, the line and the text at fault."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mteb_xalign.errors import DataError
from mteb_xalign.text_rules import is_empty_text


def open_data_file(path: Path, mode: str = "rb"):
    """`open(path)`, with a directory, a dangling link or a symlink loop named as such."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise DataError("a symbolic link that loops or points nowhere", path=path)
    if path.is_dir():
        raise DataError("is a folder, not a file", path=path)
    try:
        return open(path, mode)
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", path=path) from None


def decode_line(raw: bytes, path: Path, lineno: int) -> str:
    """One line as text; invalid UTF-8 names its line, column and byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(raw[: exc.start].decode("utf-8", errors="replace")) + 1
        raise DataError(f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at column {column} "
                        "(save the file as UTF-8)", path=path, line=lineno) from None


# Valid UTF-8 cannot encode a surrogate, so a lone one in a parsed line can only come from a JSON
# escape \uD800-\uDFFF: a line without such an escape needs no walk through its values.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def check_strings(value: Any, path: Path, lineno: int) -> None:
    """Refuse lone surrogates ("\\ud800" escapes): not text, and no model or cache can take them."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DataError(
                f"text holds a lone surrogate {value[exc.start]!r} at character {exc.start + 1} "
                f"(near {value[max(0, exc.start - 20):exc.start]!r}): not valid Unicode",
                path=path, line=lineno) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_strings(key, path, lineno)
            check_strings(item, path, lineno)
    elif isinstance(value, list):
        for item in value:
            check_strings(item, path, lineno)


def read_jsonl(path: Path, required: dict[str, type] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; check required fields and their types."""
    required = required or {}
    path = Path(path)
    with open_data_file(path) as handle:
        for lineno, raw in enumerate(handle, start=1):
            line = decode_line(raw, path, lineno)
            if lineno == 1:
                line = line.removeprefix("\ufeff")  # a UTF-8 byte-order mark is not JSON
            if is_empty_text(line):  # blank, or only invisible characters: no record
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"not valid JSON ({exc.msg} at column {exc.colno})", path=path, line=lineno) from None
            if not isinstance(obj, dict):
                raise DataError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=lineno)
            if _SURROGATE_ESCAPE.search(line):
                check_strings(obj, path, lineno)
            for field, kind in required.items():
                if field not in obj:
                    raise DataError(f"missing field {field!r}", path=path, line=lineno)
                if not isinstance(obj[field], kind):
                    raise DataError(
                        f"field {field!r} must be {kind.__name__}, got {type(obj[field]).__name__}",
                        path=path, line=lineno,
                    )
            yield lineno, obj


def read_json_file(path: Path) -> Any:
    """A whole JSON file (e.g. card.json); a syntax error names its line and column."""
    path = Path(path)
    with open_data_file(path) as handle:
        raw = handle.read()
    lines = raw.split(b"\n")
    for lineno, line in enumerate(lines, start=1):
        decode_line(line, path, lineno)
    text = raw.decode("utf-8").removeprefix("\ufeff")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc.msg} at column {exc.colno}", path=path, line=exc.lineno) from None
    check_strings(value, path, 1)
    return value
