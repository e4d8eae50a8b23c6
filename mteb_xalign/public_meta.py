"""What a ModelMeta may publish: no absolute local path, no credentials in a URL.

A model loaded from `/home/me/models/x` is recorded as `<local:x#1a2b3c4d5e6f>` (its last
component and a hash of the whole path): the same folder gives the same token, and nothing
about the machine is published. `public_model_meta` applies this to the metas plugins
register, so `model_meta.json` is clean under `mteb run` too (mteb writes `loader_kwargs`
as they are); the real values still reach the loader.
"""

from __future__ import annotations

import functools
import hashlib
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

_WINDOWS_PATH = re.compile(r"^[A-Za-z]:[\\/]")
_SOURCE_PREFIX = re.compile(r"^(path|file|dir):(.*)$", re.S)


def _local_path_token(path: str) -> str:
    """A stable stand-in for a local path: its last component and a short hash of the whole."""
    digest = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    name = re.split(r"[\\/]", path.rstrip("\\/"))[-1] or "root"
    return f"<local:{name}#{digest}>"


def _is_local_path(text: str) -> bool:
    return text.startswith(("/", "~", "\\\\")) or bool(_WINDOWS_PATH.match(text))


def _public_string(text: str) -> str:
    parts = urllib.parse.urlsplit(text) if "://" in text else None
    if parts is not None and parts.scheme and parts.netloc:
        if parts.scheme == "file":
            return _local_path_token(parts.path)
        if "@" in parts.netloc:  # user:secret@host: keep the host only
            return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
        return text
    if parts is not None and parts.scheme == "file":
        return _local_path_token(parts.path)
    if _is_local_path(text):
        return _local_path_token(text)
    match = _SOURCE_PREFIX.match(text)
    if match and _is_local_path(match.group(2)):
        return f"{match.group(1)}:{_local_path_token(match.group(2))}"
    return text


def public_meta_dict(value: Any) -> Any:
    """`value` (a ModelMeta dict, or any part of one) with local paths hashed and URL credentials dropped."""
    if isinstance(value, str):
        return _public_string(value)
    if isinstance(value, Mapping):
        return {key: public_meta_dict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [public_meta_dict(item) for item in value]
    return value


def private_loader_values(meta: Any) -> dict[str, Any]:
    """The loader arguments `public_model_meta` kept out of the meta (what the loader really gets)."""
    return dict(getattr(meta.loader, "private_values", {}))


def loader_arguments(meta: Any) -> dict[str, Any]:
    """Every argument the meta's loader will receive: its loader_kwargs, private values restored."""
    return {**(meta.loader_kwargs or {}), **private_loader_values(meta)}


def public_model_meta(meta: Any) -> Any:
    """`meta` with public loader_kwargs; the loader is wrapped to receive the real values.

    Returned unchanged when nothing in loader_kwargs is private (the usual case).
    """
    kwargs = dict(meta.loader_kwargs or {})
    public = public_meta_dict(kwargs)
    private = {key: value for key, value in kwargs.items() if public.get(key) != value}
    if not private or meta.loader is None:
        return meta
    loader = meta.loader

    @functools.wraps(loader)
    def load(*args: Any, **given: Any):
        return loader(*args, **{**given, **private})

    load.private_values = private  # for availability checks, which look at the real sources
    return meta.model_copy(update={"loader": load, "loader_kwargs": public})
