"""One plugin manager for the whole process.

Third-party plugins are entry points in the group "mteb_xalign"; the default plugins
(our task definitions) are registered the same way as any other. Set XALIGN_PLUGINS to a
comma-separated list of plugin names to load only those (an empty value loads none of the
entry-point plugins); a plugin that fails to import is reported by name and skipped.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pluggy

from mteb_xalign import hookspecs
from mteb_xalign.errors import UserError
from mteb_xalign.public_meta import public_model_meta

ENTRY_POINT_GROUP = "mteb_xalign"
DEFAULT_PLUGINS = ("mteb_xalign.default_plugins.tasks",)

pm = pluggy.PluginManager("mteb_xalign")
pm.add_hookspecs(hookspecs)


@dataclass(frozen=True)
class PluginError:
    name: str
    error: str


#: Plugins that failed to load in this process, for `xalign plugins` and for tests.
load_errors: list[PluginError] = []

_loaded = False


def _allowed() -> set[str] | None:
    raw = os.environ.get("XALIGN_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def load_plugins() -> pluggy.PluginManager:
    """Load default and entry-point plugins once; safe to call many times."""
    global _loaded
    if _loaded:
        return pm
    _loaded = True
    allowed = _allowed()
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # noqa: BLE001 -- one broken plugin must not take the others down
            _report(ep.name, f"failed to load ({ep.value}) and was skipped", exc)
    return pm


def _report(plugin: str, what: str, exc: BaseException) -> None:
    message = f"{type(exc).__name__}: {exc}"
    if PluginError(plugin, message) in load_errors:
        return  # already said
    load_errors.append(PluginError(plugin, message))
    text = f"mteb-xalign: plugin '{plugin}' {what}: {message}"
    warnings.warn(text, stacklevel=3)
    print(text, file=sys.stderr)


def _collect(hook_name: str) -> list[tuple[str, Any]]:
    """Call a register_* hook on every plugin; (plugin name, registered object) pairs."""
    if hook_name in _collected:
        return _collected[hook_name]
    load_plugins()
    failed = False
    found: list[tuple[str, Any]] = []
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        def register(obj: Any, _plugin: str = impl.plugin_name) -> None:
            found.append((_plugin, obj))

        try:
            impl.function(register=register)
        except Exception as exc:  # noqa: BLE001
            _report(impl.plugin_name, f"failed in {hook_name}", exc)
            failed = True
    if not failed:  # a failure may be passing (a half-finished import): ask again next time
        _collected[hook_name] = found
    return found


_collected: dict[str, list[tuple[str, Any]]] = {}


def _one_per_name(hook_name: str, kind: str, name_of, conflicts: dict[str, list[str]]) -> list[tuple[str, Any]]:
    """(plugin, object) with one entry per name: a plugin's later entry of a name wins; a name
    from two plugins is kept from the plugin whose name sorts first (never the directory order
    of installed packages), recorded in `conflicts` and warned about, naming both."""
    by_name: dict[str, dict[str, Any]] = {}  # name -> plugin -> object
    for plugin, obj in _collect(hook_name):
        by_name.setdefault(name_of(obj), {})[plugin] = obj
    kept = []
    for name, per_plugin in by_name.items():
        entries = sorted(per_plugin.items(), key=lambda entry: entry[0])
        if len(entries) > 1:
            plugins_of_name = [plugin for plugin, _ in entries]
            conflicts[name] = plugins_of_name
            outcome = ("neither `xalign run` nor `mteb run` loads it" if kind == "model"
                       else f"mteb gets the one from {plugins_of_name[0]!r}")
            _warn_once(f"mteb-xalign: {kind} {name!r} is registered by {len(entries)} plugins "
                       f"({', '.join(repr(p) for p in plugins_of_name)}); {outcome}. "
                       "Load only one of them with XALIGN_PLUGINS=<plugin>,... or remove one entry.")
        kept.append(entries[0])
    return kept


def get_models() -> list[tuple[str, Any]]:
    """(plugin name, mteb ModelMeta) for every registered model, one entry per model name.

    Local paths in a meta's loader_kwargs are replaced by hashed tokens (the loader still gets
    the real ones: mteb_xalign/public_meta.py). A plugin registering a name twice means its
    later entry (a models-file entry over a built-in). A name registered by two plugins is
    ambiguous (see `_one_per_name`); `model_conflicts` records it, and its meta's loader refuses,
    so `xalign run` and `mteb run` both refuse the name instead of guessing.
    """
    unique = _one_per_name("register_models", "model", lambda meta: meta.name, model_conflicts)
    # No absolute local path or URL credential in what mteb writes to model_meta.json.
    return [(plugin, _refusing_if_conflicting(public_model_meta(meta))) for plugin, meta in unique]


def model_conflict(name: str) -> str | None:
    """The one-line refusal for a model name two plugins registered (None if just one did)."""
    if name not in model_conflicts:
        return None
    names = ", ".join(repr(p) for p in model_conflicts[name])
    return (f"model {name!r} is registered by several plugins ({names}): load only one with "
            "XALIGN_PLUGINS=<plugin>,... (see `xalign plugins`)")


def _refusing_if_conflicting(meta: Any) -> Any:
    """One rule under `xalign run` and `mteb run`: a model name two plugins claim is loaded by
    neither. mteb calls the meta's loader, so the meta it gets refuses (guessing one of the two
    would give results under a name that does not say which model made them)."""
    message = model_conflict(meta.name)
    if message is None:
        return meta

    def refuse(*args: Any, **kwargs: Any):
        raise UserError(message)

    return meta.model_copy(update={"loader": refuse})


#: model (task) name -> the plugins that all registered it (see _one_per_name).
model_conflicts: dict[str, list[str]] = {}
task_conflicts: dict[str, list[str]] = {}
_warned: set[str] = set()


def _warn_once(text: str) -> None:
    if text in _warned:
        return
    _warned.add(text)
    warnings.warn(text, stacklevel=3)
    print(text, file=sys.stderr)


def model_from_folder(path: str) -> tuple[str, Any] | None:
    """(plugin, public ModelMeta) of the first plugin that recognises folder `path` as a model,
    in pluggy's call order (a `trylast` generic loader after specific ones); None if none does.
    A plugin that recognises the folder but finds it broken raises (a one-line DataError)."""
    load_plugins()
    for impl in reversed(pm.hook.model_from_folder.get_hookimpls()):
        meta = impl.function(path=str(path))
        if meta is not None:
            _folder_models[meta.name] = impl.plugin_name
            return impl.plugin_name, public_model_meta(meta)
    return None


#: models resolved from a folder in this process: name -> the plugin that recognised it.
_folder_models: dict[str, str] = {}


def plugin_of_model(name: str) -> str | None:
    """The plugin that provides model `name` (None for a model only mteb itself knows)."""
    if name in _folder_models:
        return _folder_models[name]
    for plugin, meta in get_models():
        if meta.name == name:
            return plugin
    return None


def get_benchmarks() -> list[tuple[str, Any]]:
    """(plugin name, mteb Benchmark) for every registered benchmark, one per name (as models)."""
    return _one_per_name("register_benchmarks", "benchmark", lambda bench: bench.name, benchmark_conflicts)


benchmark_conflicts: dict[str, list[str]] = {}


def get_tasks() -> list[tuple[str, Any]]:
    """(plugin name, AbsTask subclass) for every registered task, one per task name (as models)."""
    return _one_per_name("register_tasks", "task", lambda cls: cls.metadata.name, task_conflicts)
