"""Can a registered model run on this machine, and if not, why (one line)?

Read from what the ModelMeta already declares, without loading anything: an API model
names the environment variable of its key (`api_key_env`), a local model lists its weights
`sources` (tried by `weights.resolve` with downloads off). `xalign models` shows the answer
per model; `xalign run` refuses an unavailable model with it before anything is loaded.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from functools import cache
from typing import Any

from mteb_xalign import weights
from mteb_xalign.public_meta import loader_arguments
from mteb_xalign.weights import WeightsNotFound, hub_offline, parse_source, resolve


@dataclass(frozen=True)
class Availability:
    status: str  # "local", "hub", "api", "plugin" (the plugin's own loader) or "unavailable"
    reason: str  # one line

    @property
    def runnable(self) -> bool:
        return self.status != "unavailable"


@cache
def _hub_reachable() -> bool:
    return weights.hub_reachable()  # through the module: tests stand in for the network


def _host(url: Any) -> str:
    parts = urllib.parse.urlsplit(str(url))
    return parts.hostname or str(url)


def availability(meta: Any) -> Availability:
    """Whether `meta`'s model can run here; never loads weights or sends a request."""

    # The real sources, not the hashed ones the meta publishes.
    return availability_of(meta.name, loader_arguments(meta))


def availability_of(name: str, kwargs: dict[str, Any]) -> Availability:
    """The same from the model's name and loader arguments (what `xalign models` keeps on disk)."""

    if "api_key_env" in kwargs or "base_url" in kwargs:
        env = kwargs.get("api_key_env")
        host = _host(kwargs.get("base_url", ""))
        if env and not os.environ.get(env):
            return Availability("unavailable", f"API key missing: set {env} (service {host})")
        return Availability("api", f"API at {host}" + (f", key from {env}" if env else ", no key"))
    sources = kwargs.get("sources")
    if not sources:
        return Availability("plugin", "loaded by its plugin (no weights sources declared)")
    try:
        found = resolve(list(sources), revision=kwargs.get("model_revision"), what=name, allow_download=False)
        return Availability("local", f"weights on this machine ({found.source.split(':', 1)[0]})")
    except WeightsNotFound:
        pass
    except ValueError as exc:  # a malformed source string
        return Availability("unavailable", str(exc))
    hub_ids = [arg for kind, arg in (parse_source(s) for s in sources) if kind == "hf"]
    if not hub_ids:
        return Availability("unavailable", f"weights not found in {', '.join(map(str, sources))}")
    if hub_offline():
        return Availability("unavailable", f"weights not on this machine and the hub is off (HF_HUB_OFFLINE/XALIGN_OFFLINE): "
                                           f"download {hub_ids[0]} or set XALIGN_WEIGHTS_DIR")
    if not _hub_reachable():
        return Availability("unavailable", f"weights not on this machine and the hub is unreachable: "
                                           f"download {hub_ids[0]} elsewhere, then set XALIGN_WEIGHTS_DIR")
    return Availability("hub", f"hub only: {hub_ids[0]} is downloaded on first use")
