"""Reading JSON Lines with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mteb_xalign.errors import DataError


def read_jsonl(path: Path, required: dict[str, type] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; check required fields and their types."""
    required = required or {}
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"not valid JSON ({exc.msg} at column {exc.colno})", path=path, line=lineno) from None
            if not isinstance(obj, dict):
                raise DataError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=lineno)
            for field, kind in required.items():
                if field not in obj:
                    raise DataError(f"missing field {field!r}", path=path, line=lineno)
                if not isinstance(obj[field], kind):
                    raise DataError(
                        f"field {field!r} must be {kind.__name__}, got {type(obj[field]).__name__}",
                        path=path, line=lineno,
                    )
            yield lineno, obj
