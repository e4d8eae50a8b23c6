"""Where aligned models come from, and their ModelMeta.

An aligned model is registered (so `mteb run`, `xalign run`, the leaderboard, the plots and
`xalign check-plugin` find it) when it is listed in
  - this plugin's index, `$XDG_CONFIG_HOME/mteb-xalign/aligned.toml` (`xalign align fit/train`
    add what they write, unless `--no-register`), or any models file (`adapter = "aligned"`,
    `path = ARTIFACT_FOLDER`): under its name;
  - the command line: `-m DIR` (xalign or mteb) resolves an artifact folder to the model its
    card names, through the `model_from_folder` hook, so results never carry a path as a name.
A folder holds either a map (`kind = "map"`, loaded by this plugin's adapter) or a fine-tuned
sentence-transformers model (`kind = "finetuned"`, loaded by the sentence-transformers plugin).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from mteb_xalign.errors import DataError

from xalign_align import artifact as artifact_mod

ADAPTER = "aligned"


def index_file() -> Path:
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "mteb-xalign" / "aligned.toml"


def add_to_index(name: str, folder: Path) -> Path:
    """Record `name -> folder` in the index (replacing an entry of that name); returns the file."""
    path = index_file()
    entries = dict(_read_index(path))
    entries[name] = str(Path(folder).resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Aligned models registered by `xalign align` (plugin xalign-align). Safe to edit.\n"]
    for entry_name, entry_path in sorted(entries.items()):
        lines.append(f'\n[[model]]\nname = {json.dumps(entry_name)}\nadapter = "{ADAPTER}"\n'
                     f"path = {json.dumps(entry_path)}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _read_index(path: Path) -> list[tuple[str, str]]:
    from mteb_xalign.models_file import read_entries

    if not path.is_file():
        return []
    return [(e.name, str(e.resolve_path(e.fields["path"]))) for e in read_entries(path, ADAPTER)
            if isinstance(e.fields.get("path"), str)]


def listed() -> tuple[dict[str, Path], list[DataError]]:
    """name -> artifact folder from the index and the models files."""
    from mteb_xalign.models_file import collect

    def validate(entry):
        raw = entry.fields.get("path")
        if not isinstance(raw, str) or not raw:
            raise DataError(f"{entry.where}: an aligned model needs 'path' (its artifact folder)")
        return entry.resolve_path(raw)

    first = [index_file()] if index_file().is_file() else []
    return collect(ADAPTER, validate, first=first)


def meta_for(name: str, folder: Path):
    """The ModelMeta of the artifact in `folder`, registered as `name`."""
    art = artifact_mod.load(folder, verify_weights=False)
    if art.card["kind"] == "finetuned":
        return _finetuned_meta(name, art)
    return _map_meta(name, art)


BASE_FACTS = ("languages", "n_parameters", "memory_usage_mb", "max_tokens", "license", "open_weights",
              "framework", "reference", "use_instructions", "training_datasets", "citation")


def base_facts(base_meta) -> dict[str, Any]:
    """What the aligned model inherits from its base, stored in the card at fit time (registration
    must not depend on the order in which plugins register)."""
    dumped = base_meta.model_dump(include=set(BASE_FACTS))
    if dumped.get("training_datasets") is not None:
        dumped["training_datasets"] = sorted(dumped["training_datasets"])
    return json.loads(json.dumps(dumped, default=str))


def _facts(card: dict) -> dict[str, Any]:
    return dict(card.get("base_meta") or {})


def _map_meta(name: str, art: artifact_mod.Artifact):
    from mteb.models import ModelMeta

    from xalign_align.adapter import load_aligned

    card = art.card
    facts = _facts(card)
    n_map = int(card.get("n_map_parameters", 0))
    training = set(facts.get("training_datasets") or set())
    if card["training_data"]["name"] == "tatoeba":
        training.add("Tatoeba")
    framework = list(dict.fromkeys([*(facts.get("framework") or []), "NumPy"]))
    fields = {
        "release_date": card.get("created", "")[:10] or None,
        "languages": facts.get("languages"),
        "n_parameters": (facts.get("n_parameters") or 0) + n_map if facts.get("n_parameters") else None,
        "memory_usage_mb": facts.get("memory_usage_mb"),
        "max_tokens": facts.get("max_tokens"),
        "embed_dim": int(card["embed_dim"]),
        "license": facts.get("license"),
        "open_weights": facts.get("open_weights"),
        "public_training_code": "xalign align fit (plugin xalign-align)",
        "public_training_data": f"{card['training_data']['name']} (sha256 {card['training_data']['digest'][:12]})",
        "framework": framework,
        "reference": facts.get("reference"),
        "similarity_fn_name": "cosine",
        "use_instructions": facts.get("use_instructions"),
        "training_datasets": training,
        "adapted_from": card["base_model"],
        "citation": facts.get("citation"),
    }
    return ModelMeta(loader=load_aligned, loader_kwargs={"artifact": str(art.folder)}, name=name,
                     revision=art.revision, **fields)


def _finetuned_meta(name: str, art: artifact_mod.Artifact):
    from xalign_sentence_transformers import sentence_transformer_meta

    card = art.card
    facts = _facts(card)
    training = set(facts.get("training_datasets") or set())
    if card["training_data"]["name"] == "tatoeba":
        training.add("Tatoeba")
    meta = sentence_transformer_meta(
        name, sources=[f"path:{art.folder}"], inherit_mteb_meta=False, revision=art.revision,
        release_date=card.get("created", "")[:10] or None, languages=facts.get("languages"),
        n_parameters=facts.get("n_parameters"), memory_usage_mb=facts.get("memory_usage_mb"),
        max_tokens=facts.get("max_tokens"), embed_dim=int(card["embed_dim"]), license=facts.get("license"),
        open_weights=True, public_training_code="xalign align train (plugin xalign-align)",
        public_training_data=f"{card['training_data']['name']} (sha256 {card['training_data']['digest'][:12]})",
        reference=facts.get("reference"), similarity_fn_name="cosine",
        use_instructions=facts.get("use_instructions"), training_datasets=training,
        adapted_from=card["base_model"],
    )
    # Loaded by the sentence-transformers plugin, after the weights are checked against the card.
    return meta.model_copy(update={"loader": load_finetuned,
                                   "loader_kwargs": {**meta.loader_kwargs, "artifact": str(art.folder)}})


def load_finetuned(model_name: str, revision: str | None = None, *, artifact: str, **kwargs: Any):
    from xalign_sentence_transformers import load_sentence_transformer

    artifact_mod.load(artifact)  # weights changed after training: refused, never served under this revision
    return load_sentence_transformer(model_name, revision=revision, **kwargs)
