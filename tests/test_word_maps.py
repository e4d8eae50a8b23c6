"""Word maps as Semanscope draws them: every reduction seeded and repeatable, missing packages refused
in one line, the interactive (Plotly) map with hover, language toggles and translation links."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from test_plotting import fake_embed, hashed_vector

from mteb_xalign.cli import main
from mteb_xalign.errors import UserError
from mteb_xalign.plots import layout
from mteb_xalign.plots import words as plot_words
from mteb_xalign.report.page import render
from mteb_xalign.report.word_map import word_map_figure

pytest.importorskip("plotly")


@pytest.mark.parametrize("method", ["phate", "umap", "tsne", "pacmap", "trimap"])
def test_every_method_is_seeded_and_repeatable(method):
    module = layout.METHODS[method][1]
    pytest.importorskip(module)
    vectors = np.stack([hashed_vector(f"w{i}", 24) for i in range(40)])
    first, name, note = layout.layout_2d(vectors, method=method, seed=3)
    again, _, _ = layout.layout_2d(vectors, method=method, seed=3)
    assert note is None and name == layout.METHODS[method][0]  # the method itself drew it, not the PCA fallback
    assert first.shape == (40, 2) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, again)


def test_few_points_fall_back_to_pca_and_say_so():
    vectors = np.stack([hashed_vector(f"w{i}") for i in range(6)])
    coords, name, note = layout.layout_2d(vectors, method="tsne", seed=0)
    assert name == "PCA" and "t-SNE" in note and coords.shape == (6, 2)


def test_a_method_without_its_package_is_refused_in_one_line(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "umap" else real(name, *a))
    with pytest.raises(UserError) as err:
        layout.require_method("umap")
    assert "umap-learn" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(UserError, match="unknown map method"):
        layout.require_method("isomap")


def test_missing_package_is_refused_before_the_model_loads(tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pacmap" else real(name, *a))
    monkeypatch.setattr(plot_words, "embed_words", lambda *a, **k: pytest.fail("the model was loaded"))
    code = main(["plot", "affinity", "-m", "x", "--method", "pacmap", "--output", str(tmp_path / "f.png")])
    assert code == 1 and "'pacmap'" in capsys.readouterr().err


def test_interactive_map_on_a_bundled_semanscope_list(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plot_words, "embed_words", fake_embed)
    out = tmp_path / "map.html"
    assert main(["plot", "affinity", "-m", "test/fake", "--data", "semanscope/ICML-4-zinets-SA.csv",
                 "--method", "pca", "--concepts", "25", "--output", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "ICML-4-zinets-SA.csv" in page and json.dumps("一")[1:-1] in page and "unity" in page
    assert "language: %{customdata[0]}" in page and "concept: %{customdata[1]}" in page


def test_word_map_figure_traces(tmp_path):
    from mteb_xalign.wordlists import read_wordlist

    path = tmp_path / "w.csv"
    path.write_text("english,chinese,arabic,russian,greek\nwater,水,ماء,вода,νερό\nfire,火,نار,огонь,φωτιά\n"
                    "stone|rock,石,حجر,камень,πέτρα\n", encoding="utf-8")
    words = read_wordlist(path)
    languages = ["en", "zh", "ar", "ru", "el"]
    vectors = {(lang, w): hashed_vector(w) for lang in languages for w in words.unique_words([lang])}
    points, method, _ = layout.build_points(words, [0, 1, 2], languages, vectors, method="pca")
    fig = word_map_figure(points, words, languages, title="t", method=method)
    links, *per_language = fig.data
    assert links.name == "translations" and links.mode == "lines"
    # every pair of words of one concept in two languages is one segment (x, x, None)
    pairs = sum(len(words.concepts[c].words[a]) * len(words.concepts[c].words[b])
                for c in range(3) for i, a in enumerate(languages) for b in languages[i + 1:])
    assert len(links.x) == 3 * pairs
    assert [t.name for t in per_language] == languages
    assert list(per_language[0].text) == ["water", "fire", "stone", "rock"]
    assert [list(c) for c in per_language[2].customdata] == [["ar", "water"], ["ar", "fire"], ["ar", "stone"]]
    html = render([], results_dir=tmp_path, word_maps=[("test/model", fig, "a note")])
    assert "chart-word-map-0" in html and "a note" in html and "models were run only" in html
    assert json.dumps("νερό")[1:-1] in html  # plotly writes non-ASCII as JSON escapes
