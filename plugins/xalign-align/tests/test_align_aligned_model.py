"""An aligned model is a model: fitted, registered by name and by folder, checked by check-plugin,
run by `mteb run`; per-language maps use the languages the task passes; bad artifacts are refused."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from align_testkit import mteb_bin, read_json, subprocess_env, xalign_bin

pytest.importorskip("sentence_transformers")


def _run(args, env, cwd, timeout=900):
    proc = subprocess.run(args, env=subprocess_env(env), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def test_fit_register_check_plugin_and_mteb_run(tmp_path, isolated_env, tiny_pairs):
    art = tmp_path / "art-subspace"
    rc, out = _run([xalign_bin(), "align", "fit", "-m", "test/tiny-random", "--method", "subspace", "--rank", "1",
                    "--train", str(tiny_pairs), "--out", str(art)], isolated_env, tmp_path)
    assert rc == 0, out
    card = read_json(art / "card.json")
    assert card["base_model"] == "test/tiny-random" and card["base_revision"] == "tiny-1"
    assert card["method"] == "subspace" and card["languages"] == []  # language-free
    assert card["training_data"]["digest"] and card["training_data"]["per_language"] == {"de": 48, "zh": 48}
    name = card["name"]
    assert name == "test/tiny-random+subspace-pairs"

    rc, out = _run([xalign_bin(), "models"], isolated_env, tmp_path)
    assert rc == 0 and name in out, out

    rc, out = _run([xalign_bin(), "check-plugin", str(art)], isolated_env, tmp_path)
    assert rc == 0, out

    results = tmp_path / "mteb-results"
    rc, out = _run([mteb_bin(), "run", "-m", str(art), "-t", "SemanticAffinity", "--output-folder", str(results)],
                   isolated_env, tmp_path)
    assert rc == 0, out
    files = list(results.rglob("SemanticAffinity.json"))
    assert len(files) == 1, out
    meta = read_json(files[0].parent / "model_meta.json")
    digest = card["digest"][:12]
    assert meta["revision"] == f"tiny-1+{digest}" and meta["adapted_from"] == "test/tiny-random"
    # `-m DIR` is the model of that name, under mteb run too: its folder, model_meta and provenance
    assert meta["name"] == name and files[0].parent.parent.name == name.replace("/", "__")
    settings = (files[0].parent / "run_settings.jsonl").read_text()
    assert '"mteb-xalign"' in settings and '"sha256"' in settings

    # xalign run with the base and the folder: two models, each under its own name, each with its row
    out_dir = tmp_path / "xalign-results"
    rc, out = _run([xalign_bin(), "run", "-t", "SemanticAffinity", "-m", "test/tiny-random", str(art),
                    "--output", str(out_dir)], isolated_env, tmp_path)
    assert rc == 0, out
    assert sorted(p.name for p in (out_dir / "results").iterdir()) == sorted(
        ["test__tiny-random", name.replace("/", "__")]), out
    table = [line for line in out.splitlines() if line.startswith(("test/tiny-random ", f"{name} "))]
    assert len(table) == 2, out


def _fit(tmp_path, tiny_pairs, method="procrustes", unfitted="error"):
    from xalign_align.fit import fit_artifact
    from xalign_align.pairs import load_training_set

    return fit_artifact("test/tiny-random", method, load_training_set(tiny_pairs), tmp_path / f"art-{method}",
                        unfitted=unfitted, roles=["document"], log=lambda m: None)


def _aligned(art):
    import mteb

    from mteb_xalign import mteb_compat
    from xalign_align.registry import meta_for

    mteb_compat.add_model(meta_for(art.name, art.folder))
    return mteb.get_model(art.name)


def test_per_language_map_uses_the_task_languages(tmp_path, registered_tiny, tiny_pairs):
    import mteb
    from mteb.types import PromptType

    from mteb_xalign.encoding import embed_texts

    art = _fit(tmp_path, tiny_pairs)
    model = _aligned(art)
    task = mteb.get_task("MultiRefCLIR").metadata
    base = mteb.get_model("test/tiny-random")
    texts = ["Wo ist der Bahnhof?", "车站在哪里？", "Where is the station?", "Hand"]
    langs = ["de", "zh", "en", "de"]
    # The base's measure of a text's cost (tokens, for a tokenizing model) orders the chunk.
    assert model.sort_lengths(texts) == base.sort_lengths(texts) != [len(t) for t in texts]
    got = embed_texts(model, texts, prompt_type=PromptType.document, task_metadata=task, languages=langs)
    base_vecs = embed_texts(base, texts, prompt_type=PromptType.document, task_metadata=task)
    expected = art.load_map().apply(base_vecs, langs)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(got[2], base_vecs[2], atol=1e-6)  # English: the pivot, unchanged
    # the same text in another language is another vector (and another cache entry)
    again = embed_texts(model, ["Hand"], prompt_type=PromptType.document, task_metadata=task, languages=["zh"])
    assert not np.allclose(again[0], got[3])


def test_unfitted_language_is_an_error_naming_the_model_or_a_loud_identity(tmp_path, registered_tiny, tiny_pairs,
                                                                          capsys):
    import mteb
    from mteb.types import PromptType

    from mteb_xalign.encoding import embed_texts
    from xalign_align.adapter import UnfittedLanguageError

    task = mteb.get_task("MultiRefCLIR").metadata
    model = _aligned(_fit(tmp_path, tiny_pairs))
    with pytest.raises(UnfittedLanguageError, match=r"test/tiny-random\+procrustes-pairs .*no map for language\(s\) "
                                                    r"\['fr'\]"):
        embed_texts(model, ["Bonjour"], prompt_type=PromptType.query, task_metadata=task, languages=["fr"])
    loose = _aligned(_fit(tmp_path / "loose", tiny_pairs, method="lstsq", unfitted="identity"))
    embed_texts(loose, ["Bonjour"], prompt_type=PromptType.query, task_metadata=task, languages=["fr"])
    assert "no map for 'fr'" in capsys.readouterr().err


def test_without_languages_the_identifier_in_the_card_decides(tmp_path, registered_tiny, tiny_pairs):
    art = _fit(tmp_path, tiny_pairs)
    assert art.card["language_identifier"].startswith("py3langid==")
    model = _aligned(art)
    from mteb.types import PromptType

    vecs = model.embed(["车站在哪里？", "Where is the station?"], prompt_type=PromptType.query)
    assert model.identified == 2 and vecs.shape == (2, 32)


def test_bad_artifacts_are_refused_with_the_folder_or_model_named(tmp_path, registered_tiny, tiny_pairs):
    from mteb_xalign.errors import DataError
    from xalign_align import artifact
    from xalign_align.adapter import AlignedEncoder

    art = _fit(tmp_path, tiny_pairs)
    card = read_json(art.folder / "card.json")
    # what the map was fitted from: distinct pairs of texts, and of vectors (issue 24, item 17)
    assert card["training_data"]["distinct_pairs"] == {"de": 48, "zh": 48}
    assert card["fit_diagnostics"]["distinct_vector_pairs"] == {"de": 48, "zh": 48}

    other_revision = tmp_path / "other-revision"
    artifact.save(other_revision, {**{k: v for k, v in card.items() if k not in ("digest", "weights_sha256")},
                                   "base_revision": "tiny-0"}, art.load_map().tensors())
    with pytest.raises(DataError, match=r"other-revision: fitted on test/tiny-random revision 'tiny-0', but the "
                                        r"installed model has revision 'tiny-1'"):
        AlignedEncoder("x/y", artifact=str(other_revision))

    other_model = tmp_path / "other-model"
    artifact.save(other_model, {**{k: v for k, v in card.items() if k not in ("digest", "weights_sha256")},
                                "base_model": "nobody/no-such-model"}, art.load_map().tensors())
    with pytest.raises(DataError, match=r"other-model: fitted on model 'nobody/no-such-model', which is not installed"):
        AlignedEncoder("x/y", artifact=str(other_model))

    weights = art.folder / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(DataError, match=r"weights.safetensors: weights do not match"):
        artifact.load(art.folder)

    edited = read_json(art.folder / "card.json")
    edited["method"] = "lstsq"
    (other_model / "card.json").write_text(json.dumps(edited))
    with pytest.raises(DataError, match=r"card.json: "):
        artifact.load(other_model)


@pytest.mark.parametrize("method", ["lstsq", "procrustes", "center"])
def test_fitting_on_one_pair_copied_50_times_is_refused_before_the_model_loads(tmp_path, registered_tiny,
                                                                               monkeypatch, method):
    import json as json_

    from mteb.models import ModelMeta

    from mteb_xalign.errors import DataError
    from xalign_align.fit import fit_artifact
    from xalign_align.pairs import load_training_set

    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "de-en.jsonl").write_text((json_.dumps({"text": "Hallo", "en": "Hello"}) + "\n") * 50, encoding="utf-8")

    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the pairs were counted")

    monkeypatch.setattr(ModelMeta, "load_model", no_load)
    need = 33 if method == "lstsq" else 2
    with pytest.raises(DataError, match=rf"too few distinct pairs to fit {method}: de has 1, at least {need} needed"):
        fit_artifact("test/tiny-random", method, load_training_set(folder), tmp_path / "art", roles=["document"],
                     log=lambda m: None)
    assert not (tmp_path / "art").exists()


def test_fit_progress_names_the_training_pairs_not_the_task(tmp_path, registered_tiny, tiny_pairs, monkeypatch,
                                                            capsys):
    from mteb_xalign import progress

    monkeypatch.setattr(progress, "shown", lambda: True)
    _fit(tmp_path, tiny_pairs)
    err = capsys.readouterr().err
    name = str(tiny_pairs)  # a training folder is named as given
    assert f"test/tiny-random: training pairs ({name} de-en), de side: 48 document texts to encode" in err
    assert f"training pairs ({name} zh-en), en side" in err
    assert "MultiRefCLIR" not in err  # its context keys the cache; its name does not label the pairs
