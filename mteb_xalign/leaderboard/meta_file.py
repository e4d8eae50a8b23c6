"""Reading and checking a submitted `model_meta.json` (mteb's ModelMeta, as `mteb run` writes it)."""

from __future__ import annotations

import re
from pathlib import Path

from mteb_xalign.leaderboard import limits, names
from mteb_xalign.leaderboard.problems import Problem, fmt_value, one_line

MODEL_META = "model_meta.json"

# A local absolute path: POSIX (/home/..), home-relative (~/..), Windows (C:\.., \\server\..), file: URLs.
_ABSOLUTE_PATH = re.compile(r"^(/(?!/)|~[/\\]|[A-Za-z]:[\\/]|\\\\|file:)")


def local_paths(value, where: str = "") -> list[tuple[str, str]]:
    """(field path, text) for every string in a JSON value that is an absolute local path."""
    if isinstance(value, str):
        return [(where, value)] if _ABSOLUTE_PATH.match(value.strip()) else []
    if isinstance(value, dict):
        return [hit for key, item in value.items() for hit in local_paths(item, f"{where}.{key}" if where else key)]
    if isinstance(value, list):
        return [hit for i, item in enumerate(value) for hit in local_paths(item, f"{where}[{i}]")]
    return []


def _read_json_object(path: Path, problems: list[Problem]) -> dict | None:
    big = limits.too_big(path, limits.MAX_META_BYTES)
    if big:
        problems.append(Problem(path, big))
        return None
    try:
        data = limits.parse_json(path.read_bytes())
    except limits.JSONRefused as exc:
        problems.append(Problem(path, str(exc)))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(path, f"expected a JSON object (mteb's ModelMeta), got {type(data).__name__}"))
        return None
    return data


def _identity_problems(path: Path, data: dict) -> list[Problem]:
    """The name and revision: present, short, no hidden characters, usable as folder names."""
    found = []
    for key, longest in (("name", limits.MAX_NAME_CHARS), ("revision", limits.MAX_REVISION_CHARS)):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            found.append(Problem(path, f"{fmt_value(value)} is not a model {key} (expected a non-empty string)", key=key))
        elif len(value) > longest:
            found.append(Problem(path, f"the model {key} is {len(value)} characters long; at most {longest} are "
                                       f"accepted (starts {value[:40]!r})", key=key))
        elif hidden := names.hidden_characters(value):
            found.append(Problem(path, f"{value!r} contains {'; '.join(hidden)}: such characters make one name "
                                       "look like another and are refused", key=key))
    return found


def load_model_meta(path: Path, problems: list[Problem]) -> tuple[str, str] | None:
    """(name, revision) from a model_meta.json, parsed with mteb's ModelMeta; else None and problems."""
    from mteb.models import ModelMeta  # deferred: mteb is slow to import

    data = _read_json_object(path, problems)
    if data is None:
        return None
    found = _identity_problems(path, data)
    found += [Problem(path, f"{text!r} is an absolute local path: model_meta.json is published, so it must not "
                            "name folders of the machine that ran the model (use a hub id, a package name or "
                            "a relative path)", key=field) for field, text in local_paths(data)]
    if found:
        problems.extend(found)
        return None
    # The loader is a function name here; it cannot be resolved (and is not needed) offline.
    try:
        meta = ModelMeta.model_validate({**data, "loader": None})
    except Exception as exc:  # noqa: BLE001 -- pydantic's message names the field at fault
        problems.append(Problem(path, f"not a valid mteb ModelMeta: {one_line(exc)}"))
        return None
    if not names.safe_path_part(meta.revision):
        problems.append(Problem(path, f"revision {meta.revision!r} cannot be a folder name "
                                      "(no '/', '\\', leading '.', or control characters)", key="revision"))
        return None
    if not names.safe_path_part(meta.model_name_as_path()):
        problems.append(Problem(path, f"model name {meta.name!r} cannot be a folder name", key="name"))
        return None
    return meta.name, meta.revision
