"""The only module that touches mteb's private registries.

mteb 2.26 builds `MODEL_REGISTRY` and `_TASKS_REGISTRY`/`TASK_LIST` at import time from
its own modules and offers no public way to add to them. We add our plugins' entries to
those same objects, so `mteb.get_model`, `mteb.get_task(s)`, `mteb run`, `mteb
available-tasks` and `mteb mock-run` all see them. The supported mteb range is pinned in
pyproject.toml; anything outside it fails loudly here rather than half-working.
"""

from __future__ import annotations

import sys
import traceback
import warnings

SUPPORTED_MTEB = ((2, 26), (2, 27))  # [lower, upper) on (major, minor)

_registered = False


def _check_version() -> None:
    from importlib.metadata import version

    raw = version("mteb")
    major_minor = tuple(int(part) for part in raw.split(".")[:2])
    low, high = SUPPORTED_MTEB
    if not (low <= major_minor < high):
        raise RuntimeError(
            f"mteb-xalign supports mteb >={low[0]}.{low[1]},<{high[0]}.{high[1]} "
            f"(its bridge uses mteb's private registries); found mteb {raw}."
        )


def register_with_mteb(*, from_import_hook: bool = False) -> None:
    """Add every plugin's models and tasks to mteb's registries (idempotent).

    Called by the import hook right after `import mteb`, and by `xalign` itself. From the
    import hook an error must not break mteb, so it is reported and swallowed.
    """
    global _registered
    if _registered:
        return
    if from_import_hook and _own_module_initializing():
        # mteb was first imported from inside one of our modules (e.g. a task module imported
        # before mteb): registering now would re-enter that half-imported module. Register on
        # the first lookup instead.
        _register_on_first_lookup()
        return
    _registered = True
    try:
        _register()
    except Exception as exc:  # noqa: BLE001
        # Allow a later `ensure_registered()` to try again: e.g. when the first import of
        # mteb came from inside one of our own half-imported task modules.
        _registered = False
        if not from_import_hook:
            raise
        warnings.warn(f"mteb-xalign could not register with mteb: {exc}", stacklevel=2)
        traceback.print_exc(file=sys.stderr)


def _own_module_initializing() -> bool:
    return any(
        name.startswith("mteb_xalign") and getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
    )


def _register_on_first_lookup() -> None:
    import mteb

    for name in ("get_task", "get_tasks", "get_model", "get_model_meta", "get_model_metas"):
        original = getattr(mteb, name)

        def lookup(*args, _original=original, **kwargs):
            register_with_mteb()
            return _original(*args, **kwargs)

        lookup.__wrapped__ = original
        lookup.__doc__ = original.__doc__
        setattr(mteb, name, lookup)


def _register() -> None:
    _check_version()
    import importlib

    from mteb.models.model_implementations import MODEL_REGISTRY

    from mteb_xalign import plugins

    # `import mteb.get_tasks as m` would give the function mteb re-exports under that name.
    mteb_get_tasks = importlib.import_module("mteb.get_tasks")
    for plugin_name, meta in plugins.get_models():
        # A plugin may provide a loader for a model mteb already knows (e.g. offline
        # weights for sentence-transformers/all-MiniLM-L6-v2): the plugin wins, so the
        # name keeps working where the hub is out of reach.
        MODEL_REGISTRY[meta.name] = meta
        _sources[("model", meta.name)] = plugin_name

    new_tasks = []
    for plugin_name, task_cls in plugins.get_tasks():
        name = task_cls.metadata.name
        if name in mteb_get_tasks._TASKS_REGISTRY and ("task", name) not in _sources:
            warnings.warn(
                f"mteb-xalign: plugin '{plugin_name}' task '{name}' clashes with an mteb task; skipped.",
                stacklevel=2,
            )
            continue
        mteb_get_tasks._TASKS_REGISTRY[name] = task_cls
        new_tasks.append(task_cls)
        _sources[("task", name)] = plugin_name
    known = set(mteb_get_tasks.TASK_LIST)
    mteb_get_tasks.TASK_LIST = tuple(mteb_get_tasks.TASK_LIST) + tuple(t for t in new_tasks if t not in known)


#: ("model"|"task", name) -> plugin name, for `xalign models` / `xalign tasks`.
_sources: dict[tuple[str, str], str] = {}


def source_of(kind: str, name: str) -> str | None:
    return _sources.get((kind, name))


def ensure_registered() -> None:
    """Import mteb (which triggers the hook) and make sure registration happened."""
    import mteb  # noqa: F401

    register_with_mteb()
