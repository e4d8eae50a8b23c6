"""`xalign check-plugin` (mteb_xalign/conformance.py) on misbehaving models: each problem is one
FAIL line of the table, never a crash, and no distance it prints is negative."""

from __future__ import annotations

import re

import numpy as np
import pytest
from mteb.models import ModelMeta

from mteb_xalign import conformance
from mteb_xalign.adapter import TextEncoder, l2_normalise


def _meta(name: str, dim: int) -> ModelMeta:
    return ModelMeta(
        loader=None, name=name, revision="1", release_date=None, languages=None, n_parameters=None,
        memory_usage_mb=None, max_tokens=None, embed_dim=dim, license=None, open_weights=True,
        public_training_code=None, public_training_data=None, framework=["NumPy"], similarity_fn_name="cosine",
        use_instructions=False, training_datasets=None,
    )


class OneRowShort(TextEncoder):
    """Answers n-1 rows for n texts (xalign run refuses it in one line; check-plugin must too)."""

    def embed(self, texts, *, prompt_type):
        rng = np.random.default_rng(len(texts))
        return rng.standard_normal((max(len(texts) - 1, 0), 8)).astype(np.float32)


def _unit_row_with_float64_dot_above_one(dim: int = 8) -> np.ndarray:
    """A float32 unit row (l2_normalise leaves it as it is) whose float64 self-dot exceeds 1."""
    rng = np.random.default_rng(0)
    for _ in range(10_000):
        row = l2_normalise(rng.standard_normal((1, dim)))
        if np.array_equal(l2_normalise(row), row) and float(np.sum(row.astype(np.float64) ** 2)) > 1:
            return row[0]
    raise AssertionError("no such row found")


class SameVector(TextEncoder):
    """Every text gets one unit vector whose cosine with itself rounds above 1 in float64."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.row = _unit_row_with_float64_dot_above_one()

    def embed(self, texts, *, prompt_type):
        return np.tile(self.row, (len(texts), 1))


def _check(monkeypatch, model) -> list[conformance.Check]:
    monkeypatch.setattr("mteb.get_model", lambda name, device=None: model)
    return conformance.check_model(model.model_name)


def test_a_model_returning_one_row_too_few_fails_in_one_line(monkeypatch):
    model = OneRowShort("test/short", "1")
    model.mteb_model_meta = _meta("test/short", 8)
    checks = _check(monkeypatch, model)
    failed = [c for c in checks if c.status == conformance.FAIL]
    assert failed and all("\n" not in c.detail for c in checks)
    assert failed[0].detail == f"returned embeddings of shape (5, 8) for {len(conformance.TEXTS)} texts"
    assert not any("Error" in c.detail for c in checks)  # no Python class name for our own refusal


def test_the_batching_distance_is_never_negative(monkeypatch, capsys):
    model = SameVector("test/same", "1")
    model.mteb_model_meta = _meta("test/same", 8)
    checks = _check(monkeypatch, model)
    batching = next(c for c in checks if c.name == "batching")
    assert batching.status == conformance.PASS and "max cosine distance 0.0e+00" in batching.detail
    conformance._print_table("test/same", checks)
    assert not re.search(r"distance -", capsys.readouterr().out)


def test_cosine_distance_is_clamped_and_exact_for_known_angles():
    a = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0]], np.float32)
    b = np.array([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [1.0, 0.0]], np.float32)
    np.testing.assert_allclose(conformance.cosine_distance(a, b), [0.0, 1.0, 2.0, 1.0])
    row = _unit_row_with_float64_dot_above_one()[None, :]
    assert conformance.cosine_distance(row, row)[0] == 0.0
