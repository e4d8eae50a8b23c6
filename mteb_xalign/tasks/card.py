"""A data folder's `card.json`: what the data are (name, licence, citation...), read and checked in one place.

Every key is optional; an unknown key (a typo such as "licence") or a value of the wrong form is a
one-line DataError naming card.json and the key, before any model loads. mteb's own rules for
`license`, `domains` and `reference` are applied here, so that building the task's metadata cannot
fail later with a validation traceback.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from mteb_xalign.errors import DataError
from mteb_xalign.jsonl import read_json_file

CARD = "card.json"
_TEXT_KEYS = ("name", "description", "source", "changes", "attribution", "reference", "citation", "license",
              "revision")
KEYS = (*_TEXT_KEYS, "languages", "date", "domains")


def read_card(folder: Path, languages: list[str] | None = None) -> dict[str, Any]:
    """The folder's card.json, checked ({} when there is none). `languages`: those the folder has files
    for; a card's "languages" must name only those."""
    path = Path(folder) / CARD
    if not path.exists() and not path.is_symlink():
        return {}
    card = read_json_file(path)  # syntax errors name line and column
    if not isinstance(card, dict):
        raise DataError(f"must be a JSON object of keys {', '.join(KEYS)}, not a JSON {_json_type(card)}", path=path)
    for key, value in card.items():
        if key not in KEYS:
            raise DataError(f"unknown key {key!r}; a card's keys are {', '.join(KEYS)}", path=path)
        if key in _TEXT_KEYS and not (isinstance(value, str) and value.strip()):
            raise DataError(f"key {key!r} must be a non-empty string, not {_shown(value)}", path=path)
    if "languages" in card:
        _check_languages(card["languages"], languages, path)
    if "date" in card:
        _check_date(card["date"], path)
    for key in ("license", "domains", "reference"):
        if key in card:
            _check_with_mteb(key, card[key], path)
    return card


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null", dict: "object"}.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return f"a JSON {_json_type(value)} ({text[:60] + '...' if len(text) > 60 else text})"


def _check_languages(value: Any, found: list[str] | None, path: Path) -> None:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise DataError(f'key "languages" must be a list of language codes such as ["en", "de"], not {_shown(value)}',
                        path=path)
    repeated = sorted({v for v in value if value.count(v) > 1})
    if repeated:
        raise DataError(f'key "languages" names {repeated[0]!r} twice', path=path)
    if found is not None:
        missing = [v for v in value if v not in found]
        if missing:
            raise DataError(f'key "languages" names {missing[0]!r}, which has no data files in the folder '
                            f"(it has {', '.join(found) or 'none'})", path=path)


def _check_date(value: Any, path: Path) -> None:
    """mteb's date: [first, last] day the data were made, ISO dates."""
    form = 'key "date" must be ["YYYY-MM-DD", "YYYY-MM-DD"] (first and last day the data were made)'
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise DataError(f"{form}, not {_shown(value)}", path=path)
    try:
        first, last = (datetime.date.fromisoformat(v) for v in value)
    except ValueError:
        raise DataError(f"{form}, not {value!r}", path=path) from None
    if len(value[0]) != 10 or len(value[1]) != 10:  # fromisoformat also takes "20200101"
        raise DataError(f"{form}, not {value!r}", path=path)
    if first > last:
        raise DataError(f'key "date": {value[0]} comes after {value[1]}', path=path)


def _check_with_mteb(key: str, value: Any, path: Path) -> None:
    """The value as mteb's TaskMetadata field takes it; mteb's complaint in one line if not."""
    # deferred: mteb, pydantic are slow to import
    from mteb.abstasks.task_metadata import TaskMetadata
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(TaskMetadata.model_fields[key].annotation).validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = first.get("loc", ())
        item = f" ({value[where[-1]]!r})" if key == "domains" and where and isinstance(where[-1], int) else ""
        message = " ".join(str(first.get("msg", "invalid")).split())
        raise DataError(f"key {key!r}{item}: {message}", path=path) from None
