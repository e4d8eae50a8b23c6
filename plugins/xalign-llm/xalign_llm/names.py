"""How an llm embedding model is named in xalign (`llm/MODEL_ID`), and back: the one place both
models.py (which registers the names) and encoder.py (which loads by name) read it."""

from __future__ import annotations

PREFIX = "llm/"
REFERENCE = "https://llm.datasette.io/en/stable/embeddings/"


def xalign_name(model_id: str) -> str:
    return PREFIX + model_id


def model_id_of(name: str) -> str:
    if not name.startswith(PREFIX):
        raise ValueError(f"{name!r} is not an llm model name ({PREFIX}MODEL_ID)")
    return name[len(PREFIX):]
