"""Load a model by name, once: the one way `xalign run`, `xalign plot` and `xalign report` get one.

Every refusal is one line (unknown name, two plugins claiming it, weights or API key
missing here, a package not installed), said before anything heavy is imported. The
loaded model is kept for the next call with the same name and device, one model in memory
at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mteb_xalign import mteb_bridge, plugins
from mteb_xalign.device import resolve_device
from mteb_xalign.errors import UserError, unknown_name
from mteb_xalign.model_availability import availability
from mteb_xalign.weights import WeightsNotFound


def model_meta(model_name: str) -> Any:
    """The model's ModelMeta, refused in one line if unknown, ambiguous or unable to run here.

    A folder (`-m DIR`) that is not a registered name resolves to the model a plugin recognises
    in it, under that model's own name (see hookspecs.model_from_folder).
    """

    mteb_bridge.ensure_registered()
    import mteb  # deferred: mteb is slow to import

    try:
        meta = mteb.get_model_meta(model_name)
    except KeyError:
        if not Path(model_name).expanduser().is_dir():
            note = plugins.model_notes().get(model_name)
            if note is not None:  # listed, but not registered: e.g. an aligned model whose folder is gone
                raise UserError(f"model {model_name!r} is not registered: {note}") from None
            known = (m.name for m in mteb.get_model_metas())
            raise unknown_name("model", model_name, known, "xalign models") from None
        try:
            meta = mteb_bridge.register_folder(model_name)
        except UserError:
            raise
        except Exception as folder_exc:  # noqa: BLE001 -- a plugin recognised the folder and found it broken
            raise UserError(f"-m {model_name}: {folder_exc}") from None
        if meta is None:
            raise UserError(f"-m {model_name}: no installed plugin recognises this folder as a model (an "
                            "aligned-model folder from `xalign align`, a sentence-transformers folder with "
                            "modules.json; see `xalign plugins`)") from None
    model_name = meta.name
    conflict = plugins.model_conflict(model_name)
    if conflict is not None:
        raise UserError(conflict)
    if plugins.plugin_of_model(model_name) is not None:
        state = availability(meta)
        if not state.runnable:
            raise UserError(f"model {model_name!r} cannot run here: {state.reason}")
    return meta


_loaded: dict[tuple[str, str], Any] = {}


def load_model(meta: Any, device: str | None = None) -> Any:
    """The loaded model for `meta` (a ModelMeta or a model name) on `device` (None: the best one)."""

    if isinstance(meta, str):
        meta = model_meta(meta)
    resolved = resolve_device(device)
    key = (meta.name, str(resolved))
    if key not in _loaded:
        _loaded.clear()  # one model in memory at a time
        try:
            _loaded[key] = meta.load_model(device=resolved)
        except WeightsNotFound as exc:
            raise UserError(f"model {meta.name!r}: {str(exc).splitlines()[0]} (details: xalign models)") from None
        except ImportError as exc:
            raise UserError(f"model {meta.name!r} needs a package that is not installed: {exc}") from None
    return _loaded[key]
