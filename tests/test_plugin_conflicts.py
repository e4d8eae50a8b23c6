"""A model name that two plugins register: one rule under `xalign run` and `mteb run` (both
refuse it, in one line naming the plugins); a name one plugin registers loads under both."""

from __future__ import annotations

import mteb
import pytest
from fakes import counting_model
from mteb.models import ModelMeta

from mteb_xalign import model_loading, mteb_bridge, mteb_compat, plugins
from mteb_xalign.errors import UserError


def _load(model_name, revision=None, **kwargs):
    return counting_model(name=model_name)


def _meta(name: str, reference: str) -> ModelMeta:
    return ModelMeta(loader=_load, name=name, revision="1", release_date=None, languages=None,
                     n_parameters=None, memory_usage_mb=None, max_tokens=None, embed_dim=32, license=None,
                     open_weights=True, public_training_code=None, public_training_data=None,
                     framework=["NumPy"], similarity_fn_name="cosine", use_instructions=False,
                     training_datasets=None, reference=reference)


@pytest.fixture
def registered(monkeypatch):
    """Two plugins claim acme/twice, one claims acme/once; mteb's registry holds what we register."""
    mteb_bridge.ensure_registered()
    monkeypatch.setitem(plugins._collected, "register_models", [
        ("zeta-plugin", _meta("acme/twice", "https://zeta.example")),
        ("alpha-plugin", _meta("acme/twice", "https://alpha.example")),
        ("alpha-plugin", _meta("acme/once", "https://alpha.example")),
    ])
    monkeypatch.setattr(plugins, "model_conflicts", {})
    monkeypatch.setattr(plugins, "_warned", set())
    with pytest.warns(UserWarning, match=r"'acme/twice' is registered by 2 plugins .*neither `xalign run` nor "
                                         r"`mteb run` loads it"):
        models = plugins.get_models()
    registry = mteb_compat._model_registry()
    for _, meta in models:
        monkeypatch.setitem(registry, meta.name, meta)
    return models


def test_mteb_refuses_a_name_two_plugins_register_as_xalign_run_does(registered):
    expected = ("model 'acme/twice' is registered by several plugins ('alpha-plugin', 'zeta-plugin'): load only "
                "one with XALIGN_PLUGINS=<plugin>,... (see `xalign plugins`)")
    with pytest.raises(UserError) as under_xalign:
        model_loading.model_meta("acme/twice")
    with pytest.raises(UserError) as under_mteb:  # what `mteb run -m acme/twice` calls
        mteb.get_model("acme/twice")
    assert str(under_xalign.value) == str(under_mteb.value) == expected


def test_a_name_one_plugin_registers_still_loads_under_mteb(registered):
    model = mteb.get_model("acme/once")
    assert model.mteb_model_meta.name == "acme/once"
