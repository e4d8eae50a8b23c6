"""`xalign plot`: labels sit on their own points, PHATE/PCA choice, real PNGs of the right size."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from fakes import counting_model
from PIL import Image

from mteb_xalign import plotting
from mteb_xalign.cli import main
from mteb_xalign.wordlists import read_wordlist


@pytest.fixture
def small_list(tmp_path):
    rows = [
        {"id": f"c{i}", "gloss_en": g, "words": {"en": [g], "de": d, "es": [e]}}
        for i, (g, d, e) in enumerate([
            ("water", ["Wasser"], "agua"), ("fire", ["Feuer"], "fuego"), ("tree", ["Baum"], "árbol"),
            ("stone", ["Stein", "Fels"], "piedra"), ("night", ["Nacht"], "noche"),
        ])
    ]
    path = tmp_path / "small.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return read_wordlist(path)


def fake_vectors(texts, dim=16):
    model = counting_model(dim=dim)
    return dict(zip(texts, model.embed(texts, prompt_type=None)))


def test_every_label_sits_on_its_own_point(small_list):
    languages = ["en", "de", "es"]
    texts = small_list.unique_words(languages)
    # 2-d unit vectors at distinct angles: PCA of centred 2-d data is an isometry, so the
    # distances between drawn labels must equal the distances between the words' vectors.
    angles = np.linspace(0, 2.5, len(texts))
    vectors = {t: np.array([np.cos(a), np.sin(a)]) for t, a in zip(texts, angles)}
    concepts = plotting.select_concepts(small_list, languages, 10)
    points, method, note = plotting.build_points(small_list, concepts, languages, vectors, method="pca")
    assert method == "PCA" and note is None
    assert [p.word for p in points] == ["water", "Wasser", "agua", "fire", "Feuer", "fuego", "tree", "Baum",
                                        "árbol", "stone", "Stein", "Fels", "piedra", "night", "Nacht", "noche"]
    fig = plotting.draw_affinity_map(points, small_list, languages, title="t", method=method)
    ax = fig.axes[0]
    drawn = {a.get_text(): a.xy for a in ax.texts}
    assert len(drawn) == len(points)
    for p in points:
        assert drawn[p.word] == pytest.approx((p.x, p.y))
    for a, b in itertools.combinations(points, 2):
        da = np.hypot(*(np.subtract(drawn[a.word], drawn[b.word])))
        assert da == pytest.approx(np.linalg.norm(vectors[a.word] - vectors[b.word]), abs=1e-9)
    # each label's anchor is one of the scatter points of its language's colour
    for collection, lang in zip(ax.collections, languages):
        offsets = {tuple(np.round(o, 9)) for o in collection.get_offsets()}
        for p in points:
            if p.language == lang:
                assert tuple(np.round((p.x, p.y), 9)) in offsets


def test_phate_used_with_enough_points_and_pca_fallback_announced():
    rng = np.random.default_rng(0)
    coords, method, note = plotting.layout_2d(rng.standard_normal((6, 32)))
    assert method == "PCA" and "PHATE" in note and "6 points" in note
    coords, method, note = plotting.layout_2d(rng.standard_normal((40, 32)))
    assert method == "PHATE" and note is None and coords.shape == (40, 2) and np.all(np.isfinite(coords))


def test_labels_without_glyphs_fall_back_to_gloss():
    assert plotting.can_draw("Wasser") and plotting.can_draw("νερό") and plotting.can_draw("вода")
    assert not plotting.can_draw("\U0010fffd")
    assert plotting.label_for("\U0010fffd", "water", "xx") == "water [xx]"
    assert plotting.label_for("Wasser", "water", "de") == "Wasser"
    families, _ = plotting.font_families()
    assert families[0] == "DejaVu Sans"


def _fake_embed(model_name, texts, task_metadata, **kwargs):
    return fake_vectors(texts)


def test_affinity_png_is_a_real_image_of_the_right_size(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plotting, "embed_words", _fake_embed)
    out = tmp_path / "fig.png"
    assert main(["plot", "affinity", "-m", "test/fake", "--languages", "en,zh,de", "--concepts", "12",
                 "--output", str(out)]) == 0
    image = Image.open(out)
    assert image.format == "PNG" and image.size == (1200, 900)
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    assert pixels.std() > 5 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # not blank
    printed = capsys.readouterr().out
    assert "SA = " in printed and "PHATE" in printed


def test_heatmap_png(tmp_path, monkeypatch):
    monkeypatch.setattr(plotting, "embed_words", _fake_embed)
    out = tmp_path / "sa.png"
    assert main(["plot", "heatmap", "-m", "test/fake", "--output", str(out), "--dpi", "50"]) == 0
    image = Image.open(out)
    assert image.size == (550, 475)


def test_bad_languages_are_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plotting, "embed_words", _fake_embed)
    code = main(["plot", "affinity", "-m", "x", "--languages", "en,xx", "--output", str(tmp_path / "f.png")])
    assert code == 2 and "'xx' is not a language of swadesh207.jsonl" in capsys.readouterr().err
