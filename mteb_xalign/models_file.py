"""Models files: the user's list of models, shared by every model plugin.

Files, read in this order (a later file's entry replaces an earlier entry of the same name):
  1. whatever a plugin ships and puts first (e.g. the sentence-transformers plugin's bundled file),
  2. $XDG_CONFIG_HOME/mteb-xalign/models.toml (default ~/.config/mteb-xalign/models.toml), if it exists,
  3. every file named in XALIGN_MODELS_FILE (separated by os.pathsep, ':' on Unix); each must exist.

A file ending in `.json` is JSON, anything else TOML. Entries are tables under the top-level
key `model` or `models` (TOML `[[model]]`, JSON `{"model": [...]}`), or a bare JSON list:

    [[model]]
    name = "my-lab/minilm-qa"          # required: the name mteb and xalign use
    adapter = "sentence-transformers"  # which plugin builds it (this is the default);
                                       # "decoder" (xalign-decoder), "openai" (xalign-openai), ...
    path = "/data/models/minilm-qa"    # everything else belongs to the adapter's plugin,
    prompts = { query = "query: " }    # which checks its own keys

The keys of each adapter are described by its plugin (`xalign_sentence_transformers.config`,
`xalign_decoder.config`, `xalign_openai.config` and their READMEs). A relative `path` in an entry
means relative to the file it is written in.

This module finds, parses and filters files; it does not judge an adapter's keys. Every error
is a DataError naming the file, and the entry (`model #N`, counted from 1 over the file's
entries of every adapter) where there is one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from mteb_xalign.errors import DataError

ENV_VAR = "XALIGN_MODELS_FILE"
DEFAULT_ADAPTER = "sentence-transformers"
TOP_LEVEL_KEYS = ("model", "models")

T = TypeVar("T")


@dataclass(frozen=True)
class ModelEntry:
    """One entry of a models file, with where it came from (for error messages and `xalign models`)."""

    fields: dict[str, Any]
    path: Path
    index: int  # 1-based, over every entry of the file

    @property
    def name(self) -> str:
        return self.fields["name"]

    @property
    def adapter(self) -> str:
        return self.fields.get("adapter", DEFAULT_ADAPTER)

    @property
    def origin(self) -> str:
        return f"{self.path}: model #{self.index}"

    @property
    def where(self) -> str:
        """`FILE: model #N ('NAME')`, the prefix of an error about this entry."""
        return f"{self.origin} ('{self.name}')"

    def resolve_path(self, value: str) -> Path:
        """A path written in this entry: `~` expanded, a relative one taken from the file's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.path.parent / path).resolve()


def user_file() -> Path:
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "mteb-xalign" / "models.toml"


def _listed_files() -> tuple[list[Path], list[DataError]]:
    files, errors = [], []
    if user_file().is_file():
        files.append(user_file())
    for raw in filter(None, os.environ.get(ENV_VAR, "").split(os.pathsep)):
        path = Path(raw).expanduser()
        if path.is_file():
            files.append(path)
        else:
            errors.append(DataError(f"models file named in {ENV_VAR} does not exist", path=path))
    return files, errors


def models_files() -> list[Path]:
    """The user's file (if any), then the XALIGN_MODELS_FILE files, in reading order.
    A file named in XALIGN_MODELS_FILE that does not exist raises DataError."""
    files, errors = _listed_files()
    if errors:
        raise errors[0]
    return files


def read_entries(path: str | Path, adapter: str | None = None) -> list[ModelEntry]:
    """The entries of one file (only `adapter`'s, if given); a bad file raises DataError naming it.

    Checked here for every entry, whatever its adapter: it is a table, it has a non-empty
    string `name`, and `adapter`, if given, is a string.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise DataError(f"cannot read models file: {reason}", path=path) from None
    if path.suffix.lower() == ".json":
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            # tomllib's message ends with "(at line L, column C)".
            raise DataError(f"invalid TOML: {exc}", path=path) from None
    raw_entries = _entry_list(data, path)
    entries = []
    for index, raw in enumerate(raw_entries, start=1):
        if not isinstance(raw, dict):
            raise DataError(f"model #{index}: an entry must be a table of keys, got {type(raw).__name__}", path=path)
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"model #{index}: 'name' is required and must be a non-empty string", path=path)
        if not isinstance(raw.get("adapter", DEFAULT_ADAPTER), str):
            raise DataError(f"model #{index} ('{name}'): 'adapter' must be a string", path=path)
        entry = ModelEntry(dict(raw), path, index)
        if adapter is None or entry.adapter == adapter:
            entries.append(entry)
    return entries


def _entry_list(data: Any, path: Path) -> list:
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        raise DataError("expected a list of model entries ([[model]] tables)", path=path)
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise DataError(f"unknown top-level key(s) {unknown}; entries go in [[model]] tables", path=path)
    if all(key in data for key in TOP_LEVEL_KEYS):
        raise DataError("entries under both 'model' and 'models': use one of them", path=path)
    entries = data.get("model", data.get("models", []))
    if not isinstance(entries, list):
        raise DataError("expected a list of model entries ([[model]] tables)", path=path)
    return entries


def collect(
    adapter: str,
    validate: Callable[[ModelEntry], T] | None = None,
    *,
    files: Iterable[str | Path] | None = None,
    first: Sequence[Path] = (),
) -> tuple[dict[str, T], list[DataError]]:
    """name -> entry for `adapter` over all files, and the errors of the files that could not be used.

    `files` defaults to `models_files()`; `first` are read before them (a plugin's bundled
    entries). `validate` turns an entry into what the plugin keeps (default: the entry
    itself); a DataError (or ValueError) from it makes its file unusable, like a parse error.
    One bad file never hides the others: its error is returned and the rest still load.
    """
    if files is None:
        paths, errors = _listed_files()
    else:
        paths, errors = [Path(f) for f in files], []
    out: dict[str, T] = {}
    for path in [*first, *paths]:
        try:
            checked = [(entry.name, validate(entry) if validate else entry) for entry in read_entries(path, adapter)]
        except DataError as exc:
            errors.append(exc)
            continue
        except ValueError as exc:
            errors.append(DataError(str(exc)))
            continue
        out.update(checked)  # a later file's entry replaces an earlier one of the same name
    return out, errors
