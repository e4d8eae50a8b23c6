"""The plugin contract. A plugin is any module or object with `@hookimpl` functions.

Kept as small as llm's: a plugin is handed a `register` callable and calls it once per
thing it provides. Plugins must import only light modules at top level (no torch, no
model weights): every `import mteb` loads them.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("mteb_xalign")
hookimpl = pluggy.HookimplMarker("mteb_xalign")


@hookspec
def register_models(register: Callable[..., None]) -> None:
    """Register models: call `register(model_meta)` with an `mteb.ModelMeta` per model.

    The ModelMeta's `loader` builds the encoder lazily (it is only called by `mteb.get_model`).
    """


@hookspec
def register_tasks(register: Callable[..., None]) -> None:
    """Register tasks: call `register(task_class)` with an `mteb.AbsTask` subclass per task."""


@hookspec
def register_benchmarks(register: Callable[..., None]) -> None:
    """Register mteb Benchmarks: call `register(mteb.Benchmark(...))` per benchmark (`mteb run -b NAME`)."""


@hookspec(firstresult=True)
def model_from_folder(path: str) -> Any:
    """The `mteb.ModelMeta` of the model in folder `path`, if this plugin recognises it, else None.

    `-m DIR` (xalign and mteb alike) resolves through this hook: the meta's `name` is the model's
    identity (results, tables, leaderboard), never the path as typed, and its `revision` must
    change whenever the folder's content does. The first plugin that answers wins; a generic
    loader (any sentence-transformers folder) marks its hookimpl `trylast`.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add sub-commands to the `xalign` command: `cli` is the argparse sub-parsers object."""
