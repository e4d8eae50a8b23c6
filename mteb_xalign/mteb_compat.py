"""The one module that touches mteb's private API (and CPython's import internals).

mteb 2.26 has no plugin registry and no public helper for some things we need, so this
module reaches into its internals, and nothing else in the tree does (tests/test_mteb_boundary.py
greps for it). An mteb upgrade is a change here and nowhere else; the supported range is
pinned in pyproject.toml and checked by `check_version` before any registry is touched.

- registries: `add_model`, `add_task`, `add_benchmark` (mteb builds them at import time)
- `make_loader`: mteb's own DataLoader over a list of texts, so models see what mteb feeds them
- `known_meta`: mteb's own ModelMeta for a model name (plugins reuse its facts)
- `registered_task`: a registered task by name, or None (no suggestions printed, no exception)
- `use_result_store_in_cli`: `mteb run` writes through our result store, as `xalign run` does
- `spare_sentence_transformers_import`: mteb.evaluate without a needless sentence-transformers import
- `half_imported`: whether a module's body is still running (CPython's import flag)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

SUPPORTED_MTEB = ((2, 26), (2, 27))  # [lower, upper) on (major, minor)


def check_version() -> None:
    raw = version("mteb")
    major_minor = tuple(int(part) for part in raw.split(".")[:2])
    low, high = SUPPORTED_MTEB
    if not (low <= major_minor < high):
        raise RuntimeError(
            f"mteb-xalign supports mteb >={low[0]}.{low[1]},<{high[0]}.{high[1]} "
            f"(mteb_xalign/mteb_compat.py uses mteb's private API); found mteb {raw}."
        )


# -- registries ---------------------------------------------------------------------------
def _model_registry() -> dict:
    from mteb.models.model_implementations import MODEL_REGISTRY  # deferred: mteb is slow to import

    return MODEL_REGISTRY


def _tasks_module():
    # `import mteb.get_tasks as m` would give the function mteb re-exports under that name.
    return importlib.import_module("mteb.get_tasks")


#: mteb's own ModelMetas that a plugin replaced in the registry (name -> mteb's meta).
_replaced_models: dict[str, Any] = {}


def add_model(meta: Any) -> None:
    """Make `mteb.get_model(_meta)` find `meta`; a plugin's meta replaces mteb's own of that name."""
    registry = _model_registry()
    if meta.name in registry and meta.name not in _replaced_models:
        _replaced_models[meta.name] = registry[meta.name]
    registry[meta.name] = meta


def add_model_alias(alias: str, meta: Any) -> None:
    """Make `mteb.get_model(_meta)(alias)` return `meta` (whose name stays its own): `-m DIR`
    under `mteb run`, where DIR is a folder a plugin recognised as the model `meta.name`."""
    _model_registry()[alias] = meta


def known_meta(name: str) -> Any | None:
    """mteb's own ModelMeta for `name` (not a plugin's replacement), or None if mteb has none.

    Plugins reuse its facts (languages, training data, sizes, citation) instead of importing
    mteb's model-implementation modules.
    """
    if name in _replaced_models:
        return _replaced_models[name]
    return _model_registry().get(name)


def has_task(name: str) -> bool:
    return name in _tasks_module()._TASKS_REGISTRY


def registered_task(name: str) -> Any | None:
    """A new instance of the registered task `name`, or None if mteb has no task of that name."""
    task_cls = registered_task_class(name)
    return task_cls() if task_cls is not None else None


def registered_task_class(name: str) -> type | None:
    """The class of the registered task `name`, or None if mteb has no task of that name."""
    return _tasks_module()._TASKS_REGISTRY.get(name)


def add_task(task_cls: type) -> None:
    """Make `mteb.get_task(s)`, `mteb run -t` and `mteb available-tasks` find `task_cls`."""
    module = _tasks_module()
    module._TASKS_REGISTRY[task_cls.metadata.name] = task_cls
    if task_cls not in module.TASK_LIST:
        module.TASK_LIST = (*module.TASK_LIST, task_cls)


def add_benchmark(benchmark: Any) -> None:
    """Make `mteb.get_benchmark(name)` and `mteb run -b name` find `benchmark`.

    mteb builds its benchmark registry (cached) from the Benchmark objects defined in
    `mteb.benchmarks.benchmarks`; we add ours there and drop the cache.
    """
    module = importlib.import_module("mteb.benchmarks.benchmarks")
    lookup = importlib.import_module("mteb.benchmarks.get_benchmark")  # the module, not the function
    setattr(module, f"_xalign_{benchmark.name}", benchmark)
    lookup._build_registry.cache_clear()
    lookup._build_aliases_registry.cache_clear()


def use_result_store_in_cli(store_cls: type) -> None:
    """`mteb run` saves through `store_cls` (a ResultCache subclass) instead of mteb's plain
    ResultCache: the same folder layout, plus atomic writes, provenance and the rule that only a
    current result is reused, so `mteb run` and `xalign run` give the same files."""
    module = importlib.import_module("mteb.cli.build_cli")
    module.ResultCache = store_cls


# -- evaluation helpers -------------------------------------------------------------------
def make_loader(texts: Sequence[str], *, task_metadata: Any, prompt_type: Any, batch_size: int = 32,
                columns: dict[str, Sequence[str]] | None = None):
    """mteb's DataLoader over `texts`, as mteb's own tasks build it (prompts, formatting, batching).

    Documents go through mteb's corpus formatting, which wants an id column: ids are the
    texts' positions. `columns` (one value per text, never None) ride along in each batch:
    mteb's formatting keeps extra columns (encoding.py sends each text's language this way).
    """
    # deferred: datasets, mteb are slow to import
    from datasets import Dataset
    from mteb._create_dataloaders import create_dataloader

    dataset = Dataset.from_dict({**(columns or {}), "id": [str(i) for i in range(len(texts))], "text": list(texts)})
    return create_dataloader(dataset, task_metadata=task_metadata, prompt_type=prompt_type, batch_size=batch_size)


def spare_sentence_transformers_import() -> None:
    """Let `mteb.evaluate` skip importing sentence-transformers when no model can be one of its.

    mteb's `_sanitize_model` imports the package (about 14 s here: it pulls in transformers)
    only to ask whether the model is a `SentenceTransformer` or `CrossEncoder`. An object can
    only be one if the package is already imported; until then a model carrying its
    ModelMeta (every mteb and xalign model) is answered as mteb's own branch would.
    """
    module = importlib.import_module("mteb.evaluate")
    original = module._sanitize_model
    if getattr(original, "_xalign_spares_import", False):
        return

    def _sanitize_model(model: Any):
        if "sentence_transformers" not in sys.modules:
            from mteb.models import ModelMeta  # deferred: mteb is slow to import

            if isinstance(model, ModelMeta):
                return model, model, model.name, model.revision
            meta = getattr(model, "mteb_model_meta", None)
            if isinstance(meta, ModelMeta):
                return model, meta, meta.name, meta.revision
        return original(model)

    _sanitize_model._xalign_spares_import = True
    module._sanitize_model = _sanitize_model


# -- CPython import internals -------------------------------------------------------------
def half_imported(prefix: str) -> bool:
    """True while the body of a module named `prefix...` is still running (half imported)."""
    return any(
        name.startswith(prefix) and getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
    )
