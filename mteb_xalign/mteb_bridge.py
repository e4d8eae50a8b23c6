"""Registration: every plugin's models and tasks, and the XAlign benchmark, made visible to mteb.

mteb 2.26 has no plugin registry, so `mteb.get_model`, `mteb.get_task(s)`, `mteb run`,
`mteb available-tasks` and `mteb.get_benchmark` see our entries only because we add them to
mteb's own registries; how that is done (mteb's private API) lives in `mteb_compat`, the
only module touching it. Anything outside the supported mteb range fails loudly here
rather than half-working.
"""

from __future__ import annotations

import os
import sys
import traceback
import warnings

from mteb_xalign import mteb_compat, plugins

_registered = False


def register_with_mteb(*, from_import_hook: bool = False) -> None:
    """Add every plugin's models and tasks to mteb's registries (idempotent).

    Called by the import hook right after `import mteb`, and by `xalign` itself. From the
    import hook an error must not break mteb, so it is reported and swallowed.
    """
    global _registered
    if _registered:
        return
    if from_import_hook and mteb_compat.half_imported("mteb_xalign"):
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


def _register_on_first_lookup() -> None:
    import mteb  # deferred: mteb is slow to import

    for name in ("get_task", "get_tasks", "get_model", "get_model_meta", "get_model_metas"):
        original = getattr(mteb, name)

        def lookup(*args, _original=original, **kwargs):
            register_with_mteb()
            return _original(*args, **kwargs)

        lookup.__wrapped__ = original
        lookup.__doc__ = original.__doc__
        setattr(mteb, name, lookup)


def _register() -> None:
    mteb_compat.check_version()
    mteb_compat.spare_sentence_transformers_import()
    for plugin_name, meta in plugins.get_models():
        # A plugin may provide a loader for a model mteb already knows (e.g. offline
        # weights for sentence-transformers/all-MiniLM-L6-v2): the plugin wins, so the
        # name keeps working where the hub is out of reach.
        mteb_compat.add_model(meta)
        _sources[("model", meta.name)] = plugin_name

    for plugin_name, task_cls in plugins.get_tasks():
        name = task_cls.metadata.name
        if mteb_compat.has_task(name) and ("task", name) not in _sources:
            warnings.warn(
                f"mteb-xalign: plugin '{plugin_name}' task '{name}' clashes with an mteb task; skipped.",
                stacklevel=2,
            )
            continue
        mteb_compat.add_task(task_cls)
        _sources[("task", name)] = plugin_name

    for value in _command_line_values(sys.argv[1:]):
        # `mteb run -m DIR`: mteb looks the model up by the path as typed.
        if os.path.isdir(value) and not mteb_compat.known_meta(value):
            try:
                register_folder(value)
            except Exception as exc:  # noqa: BLE001 -- `xalign run` reports it in one line; mteb must still import
                print(f"mteb-xalign: {value}: {exc}", file=sys.stderr)

    for _, bench in plugins.get_benchmarks():  # after the tasks: a benchmark names registered tasks
        mteb_compat.add_benchmark(bench)
    from mteb_xalign.result_store import ResultStore  # deferred: mteb is slow to import

    mteb_compat.use_result_store_in_cli(ResultStore)


def register_folder(typed: str):
    """The ModelMeta of the model in folder `typed` (named by the plugin that recognises it, never by
    the path), registered under its name and reachable by the path as typed; None if no plugin
    recognises the folder."""
    found = plugins.model_from_folder(typed)
    if found is None:
        return None
    plugin_name, meta = found
    mteb_compat.add_model(meta)
    mteb_compat.add_model_alias(typed, meta)
    _sources[("model", meta.name)] = plugin_name
    return meta


def _command_line_values(argv: list[str]) -> list[str]:
    """Arguments as typed, `--model=DIR` split at '='."""
    return [arg.split("=", 1)[1] if arg.startswith("--") and "=" in arg else arg for arg in argv]


#: ("model"|"task", name) -> plugin name, for `xalign models` / `xalign tasks`.
_sources: dict[tuple[str, str], str] = {}


def source_of(kind: str, name: str) -> str | None:
    """The plugin that registered model or task `name` (kind "model" or "task"), None if none did."""
    return _sources.get((kind, name))


def task_class(name: str) -> type | None:
    """The registered task class `name` (ours, a plugin's, a user's --data task, or mteb's), None if none:
    what the report and adapters read a task's declarations (task_rules.TaskRules) from."""
    ensure_registered()
    return mteb_compat.registered_task_class(name)


def ensure_registered() -> None:
    """Import mteb (which triggers the hook) and make sure registration happened."""
    import mteb  # noqa: F401

    register_with_mteb()
