"""The maps against oracles that hold by construction (float64 linear algebra, loose tolerances)."""

import numpy as np
import pytest

from xalign_align import maps


def _rng(seed=0):
    return np.random.default_rng(seed)


def _rotation(dim, rng):
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


def test_procrustes_recovers_a_known_rotation():
    rng = _rng(1)
    rot = _rotation(16, rng)
    x = rng.standard_normal((200, 16))
    w = maps.procrustes(x, x @ rot)
    np.testing.assert_allclose(w, rot, atol=1e-8)
    np.testing.assert_allclose(w.T @ w, np.eye(16), atol=1e-10)  # orthogonal even for noisy targets


def test_lstsq_equals_the_normal_equations():
    rng = _rng(2)
    x = rng.standard_normal((300, 12))
    y = x @ rng.standard_normal((12, 12)) + 0.1 * rng.standard_normal((300, 12))
    normal = np.linalg.solve(x.T @ x, x.T @ y)
    np.testing.assert_allclose(maps.lstsq(x, y), normal, atol=1e-9)


def test_single_layer_net_converges_to_the_least_squares_map():
    pytest.importorskip("torch")
    rng = _rng(3)
    x = rng.standard_normal((400, 8))
    y = x @ rng.standard_normal((8, 8)) + 0.2 * rng.standard_normal((400, 8))
    w, info = maps.linear_sgd(x, y, steps=3000, lr=0.05)
    target = maps.lstsq(x, y)
    assert np.abs(w - target).max() < 2e-3
    residual = np.mean(np.sum((x @ target - y) ** 2, axis=1))
    assert info["final_loss"] == pytest.approx(residual, rel=1e-3)


def _pairs(rng, langs=("de", "zh"), n=60, dim=6):
    out = {}
    for lang in langs:
        e = rng.standard_normal((n, dim))
        out[lang] = (e @ _rotation(dim, rng).T + 0.5, e)  # rotated and shifted copies of the English rows
    return out


def test_fit_and_apply_per_language_with_english_as_identity():
    rng = _rng(4)
    pairs = _pairs(rng)
    m = maps.fit("lstsq", pairs)
    x_de, e_de = pairs["de"]
    # lstsq has no bias, so the shift is only approximated; the map must beat doing nothing
    mapped = m.apply(x_de, ["de"] * len(x_de))
    assert np.linalg.norm(mapped - e_de) < 0.5 * np.linalg.norm(x_de - e_de)
    english = rng.standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_array_equal(m.apply(english, ["en"] * 3), english)
    with pytest.raises(KeyError):
        m.apply(english, ["en", "fr", "en"])
    assert m.languages == ["de", "en", "zh"]


def test_center_subtracts_each_language_mean():
    rng = _rng(5)
    pairs = _pairs(rng)
    m = maps.fit("center", pairs)
    x_zh = pairs["zh"][0]
    out = m.apply(x_zh, ["zh"] * len(x_zh))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    english = np.concatenate([e for _, e in pairs.values()])
    np.testing.assert_allclose(m.offsets["en"], english.mean(axis=0), atol=1e-6)


def test_subspace_removes_the_span_of_the_language_means_without_labels():
    rng = _rng(6)
    pairs = _pairs(rng, langs=("de", "zh", "ar"))
    m = maps.fit("subspace", pairs, rank=4)  # 4 means (de, zh, ar, en): rank 4 spans them all
    means = [x.mean(axis=0) for x, _ in pairs.values()]
    for mu in means:
        np.testing.assert_allclose(m.apply(mu[None].astype(np.float32), None), 0, atol=1e-5)
    v = rng.standard_normal((5, 6)).astype(np.float32)
    once = m.apply(v, None)
    np.testing.assert_allclose(m.apply(once, None), once, atol=1e-5)  # a projection
    with pytest.raises(ValueError):
        maps.fit("subspace", pairs, rank=9)


def test_tensors_round_trip():
    rng = _rng(7)
    m = maps.fit("procrustes", _pairs(rng))
    back = maps.AlignmentMap.from_tensors(m.method, m.dim, m.pivot, m.tensors())
    v = rng.standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_allclose(back.apply(v, ["de", "zh", "en", "de"]), m.apply(v, ["de", "zh", "en", "de"]))


# -- too few distinct pairs (issue 24, item 17) ------------------------------------------------------
@pytest.mark.parametrize("method", ["lstsq", "procrustes", "linear-sgd", "center", "subspace"])
@pytest.mark.parametrize("copies", [1, 50])
def test_one_pair_or_copies_of_it_is_refused_by_every_method(method, copies):
    from mteb_xalign.errors import DataError

    rng = _rng(8)
    pairs = _pairs(rng)
    x, e = pairs["de"]
    pairs["de"] = (np.repeat(x[:1], copies, axis=0), np.repeat(e[:1], copies, axis=0))
    with pytest.raises(DataError) as err:
        maps.fit(method, pairs)
    message = str(err.value)
    assert "\n" not in message and f"too few distinct vector pairs to fit {method}: de has 1, at least " in message
    assert "zh" not in message.split(": ")[1]  # only the short language is named


@pytest.mark.parametrize("method", ["lstsq", "linear-sgd"])
def test_a_least_squares_map_needs_more_distinct_pairs_than_dimensions(method):
    from mteb_xalign.errors import DataError

    rng = _rng(9)
    dim = 6
    pairs = _pairs(rng, n=dim, dim=dim)
    with pytest.raises(DataError, match=r"de has 6, zh has 6, at least 7 needed: a 6x6 least-squares map needs more "
                                        "distinct pairs than dimensions"):
        maps.fit(method, pairs)
    # with one copy of each row added: still 6 distinct
    doubled = {lang: (np.vstack([x, x]), np.vstack([e, e])) for lang, (x, e) in pairs.items()}
    with pytest.raises(DataError, match="de has 6"):
        maps.fit(method, doubled)
    if method == "lstsq":  # the boundary: dim + 1 distinct pairs are accepted (linear-sgd: same rule, slow)
        m = maps.fit(method, _pairs(rng, n=dim + 1, dim=dim))
        assert m.info["distinct_vector_pairs"] == {"de": 7, "zh": 7}


def test_procrustes_on_fewer_pairs_than_dimensions_is_recorded_as_underdetermined():
    rng = _rng(11)
    m = maps.fit("procrustes", _pairs(rng, n=4, dim=6))
    assert m.info["underdetermined"] == [
        "procrustes for de: 4 distinct pairs for 6 dimensions: the rotation is fitted on 4 directions and "
        "arbitrary on the other 2", "procrustes for zh: 4 distinct pairs for 6 dimensions: the rotation is fitted "
        "on 4 directions and arbitrary on the other 2"]
    np.testing.assert_allclose(m.weights["de"].T @ m.weights["de"], np.eye(6), atol=1e-5)  # still a rotation
    assert "underdetermined" not in maps.fit("procrustes", _pairs(rng, n=7, dim=6)).info


def test_a_near_interpolating_lstsq_is_what_the_rule_prevents():
    """Why the rule: with n <= dim pairs the least-squares map fits them exactly (train MSE ~0), however
    unrelated the two sides are; with n > dim it cannot."""
    rng = _rng(10)
    dim = 8
    x, e = rng.standard_normal((dim, dim)), rng.standard_normal((dim, dim))  # unrelated sides
    assert np.mean(np.sum((x @ maps.lstsq(x, e) - e) ** 2, axis=1)) < 1e-20
    x, e = rng.standard_normal((10 * dim, dim)), rng.standard_normal((10 * dim, dim))
    assert np.mean(np.sum((x @ maps.lstsq(x, e) - e) ** 2, axis=1)) > 1.0
