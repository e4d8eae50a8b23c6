"""An aligned model on disk: `card.json` (what it is) + `weights.safetensors` (the map).

The artifact's digest covers the weights and every card field that changes the vectors
(method, base model and revision, languages, policy); the aligned model's revision is
`<base revision>+<digest[:12]>`, so the embedding cache never mixes two maps' vectors.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mteb_xalign.errors import DataError

FORMAT = "xalign-align/1"
CARD = "card.json"
WEIGHTS = "weights.safetensors"
# Card fields that change the vectors: part of the digest.
_DIGESTED = ("format", "kind", "method", "base_model", "base_revision", "pivot", "languages",
             "unfitted_language", "params", "embed_dim")
UNFITTED_POLICIES = ("error", "identity")


@dataclass
class Artifact:
    folder: Path
    card: dict

    @property
    def name(self) -> str:
        return self.card["name"]

    @property
    def digest(self) -> str:
        return self.card["digest"]

    @property
    def revision(self) -> str:
        return f"{self.card['base_revision']}+{self.digest[:12]}"

    def load_map(self):
        from safetensors.numpy import load_file

        from xalign_align.maps import AlignmentMap

        tensors = load_file(str(self.folder / WEIGHTS))
        return AlignmentMap.from_tensors(self.card["method"], int(self.card["embed_dim"]),
                                         self.card["pivot"], tensors)


def default_name(base_model: str, method: str, data_name: str) -> str:
    """`xalign/use-multilingual-v3+procrustes-tatoeba`: what it is built on, how, from what."""
    data = Path(data_name).name or "data"
    return f"{base_model}+{method}-{data}"


def save(folder: Path, card: dict, tensors: dict[str, np.ndarray]) -> Artifact:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / WEIGHTS))
    card = {"format": FORMAT, **card}
    card["weights_sha256"] = _sha256(folder / WEIGHTS)
    card["digest"] = _digest(card)
    (folder / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return Artifact(folder, card)


def save_finetuned(folder: Path, card: dict) -> Artifact:
    """The card of a sentence-transformers folder already saved in `folder`."""
    card = {"format": FORMAT, **card}
    card["weights_sha256"] = _weights_digest(folder)
    card["digest"] = _digest(card)
    (folder / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return Artifact(folder, card)


def _weights_digest(folder: Path) -> str:
    """sha256 over the model's weight files (name and content), in name order."""
    files = sorted(p for pattern in ("*.safetensors", "*/*.safetensors", "*.bin", "*/*.bin")
                   for p in folder.glob(pattern))
    if not files:
        raise DataError("no weight files (*.safetensors / *.bin)", path=folder)
    h = hashlib.sha256()
    for path in files:
        h.update(str(path.relative_to(folder)).encode())
        h.update(_sha256(path).encode())
    return h.hexdigest()


def is_artifact(path: str | Path) -> bool:
    folder = Path(path)
    card = folder / CARD
    if not card.is_file():
        return False
    try:
        return json.loads(card.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def load(path: str | Path, *, verify_weights: bool = True) -> Artifact:
    """Read and check an artifact folder; every problem is a DataError naming the file.

    `verify_weights=False` (registration, on every `import mteb`) checks the card only; loading the
    model verifies the weights against it."""
    folder = Path(path)
    card_path = folder / CARD
    if not card_path.is_file():
        raise DataError(f"not an aligned-model folder (no {CARD})", path=folder)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DataError(f"invalid JSON: {exc}", path=card_path) from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise DataError(f"not an {FORMAT} card", path=card_path)
    missing = [k for k in (*_DIGESTED, "name", "digest", "weights_sha256") if k not in card]
    if missing:
        raise DataError(f"card lacks {missing}", path=card_path)
    if not verify_weights:
        pass
    elif card["kind"] == "map":
        weights = folder / WEIGHTS
        if not weights.is_file():
            raise DataError("weights file missing", path=weights)
        if _sha256(weights) != card["weights_sha256"]:
            raise DataError("weights do not match the card's weights_sha256 (changed after fitting?)", path=weights)
    elif _weights_digest(folder) != card["weights_sha256"]:
        raise DataError("model weights do not match the card's weights_sha256 (changed after training?)",
                        path=folder)
    if _digest(card) != card["digest"]:
        raise DataError("card fields do not match its digest (edited by hand?)", path=card_path)
    return Artifact(folder, card)


def _digest(card: dict) -> str:
    core = {k: card.get(k) for k in _DIGESTED}
    core["weights_sha256"] = card.get("weights_sha256")
    return hashlib.sha256(json.dumps(core, sort_keys=True, default=str).encode()).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
