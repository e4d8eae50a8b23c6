"""Loading a model by name, written once (xalign run, plot, report): one-line refusals, loaded once."""

from __future__ import annotations

import pytest
from test_encoding import Scripted, meta

from mteb_xalign import mteb_compat
from mteb_xalign.errors import UserError
from mteb_xalign.model_loading import load_model, model_meta

LOADS = []


def _loader(model_name, revision=None, **kwargs):
    LOADS.append(kwargs.get("device"))
    return Scripted()


@pytest.fixture
def registered():
    entry = meta("test/loadable").model_copy(update={"loader": _loader})
    mteb_compat.add_model(entry)
    LOADS.clear()
    return entry


def test_unknown_name_is_one_line():
    with pytest.raises(UserError) as info:
        model_meta("no-such-org/no-such-model-xyz")
    assert "no-such-org/no-such-model-xyz" in str(info.value) and "\n" not in str(info.value)


def test_loaded_once_per_name_and_device(registered):
    first = load_model("test/loadable", "cpu")
    assert load_model(registered, "cpu") is first and LOADS == ["cpu"]
    assert first.mteb_model_meta.name == "test/loadable"
