"""`xalign plot`: labels on their own points and apart, fonts per script, honest heatmap scale and
title, retrieval pictures that draw exactly the stored numbers, real PNGs."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image
from results_factory import CHANCE, TARGETS, value, write_model

from mteb_xalign.cli import main
from mteb_xalign.metrics.affinity import semantic_affinity
from mteb_xalign.plots import fonts, layout, retrieval
from mteb_xalign.plots import words as plot_words
from mteb_xalign.plots.affinity import draw_affinity_map
from mteb_xalign.plots.heatmap import colour_limits, draw_heatmap
from mteb_xalign.report.results import find_results
from mteb_xalign.wordlists import read_wordlist

pytest.importorskip("matplotlib")


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


def hashed_vector(text: str, dim: int = 16) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def fake_embed(model_name, task, languages, **kwargs):
    return {(lang, word): hashed_vector(word) for lang, word in task.words_to_embed(languages)}


def assert_real_png(path, size=None):
    image = Image.open(path)
    assert image.format == "PNG"
    if size is not None:
        assert image.size == size
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    assert pixels.std() > 5 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # not blank
    return image


# -- word map ---------------------------------------------------------------------------
def test_every_label_is_anchored_on_its_own_point(small_list):
    languages = ["en", "de", "es"]
    keys = [(lang, w) for lang in languages for w in small_list.unique_words([lang])]
    # 2-d unit vectors at distinct angles: PCA of centred 2-d data is an isometry, so the
    # distances between label anchors must equal the distances between the words' vectors.
    angles = np.linspace(0, 2.5, len(keys))
    vectors = {k: np.array([np.cos(a), np.sin(a)]) for k, a in zip(keys, angles)}
    concepts = layout.select_concepts(small_list, languages, 10)
    points, method, note = layout.build_points(small_list, concepts, languages, vectors, method="pca")
    assert method == "PCA" and note is None
    assert [p.word for p in points] == ["water", "Wasser", "agua", "fire", "Feuer", "fuego", "tree", "Baum",
                                        "árbol", "stone", "Stein", "Fels", "piedra", "night", "Nacht", "noche"]
    fig = draw_affinity_map(points, small_list, languages, title="t", method=method)
    ax = fig.axes[0]
    anchor = {a.get_text(): a.xy for a in ax.texts}
    assert len(anchor) == len(points)
    for p in points:
        assert anchor[p.word] == pytest.approx((p.x, p.y))
    for a, b in itertools.combinations(points, 2):
        da = np.hypot(*(np.subtract(anchor[a.word], anchor[b.word])))
        assert da == pytest.approx(np.linalg.norm(vectors[(a.language, a.word)] - vectors[(b.language, b.word)]),
                                   abs=1e-9)
    for collection, lang in zip(ax.collections, languages):  # anchors are scatter points of their colour
        offsets = {tuple(np.round(o, 9)) for o in collection.get_offsets()}
        assert {tuple(np.round((p.x, p.y), 9)) for p in points if p.language == lang} <= offsets


def _overlapping_pairs(fig, texts) -> int:
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(t, renderer) for t in texts]  # the text alone, not an annotation's arrow
    return sum(a.overlaps(b) for a, b in itertools.combinations(boxes, 2))


def test_crowded_labels_are_pushed_apart_and_led_back_to_their_points(tmp_path):
    """120 words in one tight cluster (the unreadable centre of the old maps): drawn where their
    points are, most labels overlap; after placement almost none do, and each moved label has a
    leader line whose end is its own point."""
    rng = np.random.default_rng(1)
    languages = ["en", "de", "es", "fr"]
    rows = [{"id": f"c{i}", "gloss_en": f"w{i}", "words": {lang: [f"{lang}word{i}"] for lang in languages}}
            for i in range(30)]
    path = tmp_path / "crowd.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    words = read_wordlist(path)
    points = [layout.Point(w, lang, i, float(x), float(y))
              for i, c in enumerate(words.concepts) for lang in languages for w in c.words[lang]
              for x, y in [rng.normal(0, 0.05, 2)]]
    # one far point keeps the cluster small relative to the axes, as in a real map
    points.append(layout.Point("far", "en", 0, 5.0, 5.0))
    fig = draw_affinity_map(points, words, languages, title="t", method="PCA")
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text()]
    fig.canvas.draw()
    after = _overlapping_pairs(fig, labels)
    probes = [ax.text(p.x, p.y, t.get_text(), fontsize=t.get_fontsize(), ha="center", va="center")
              for p, t in zip(points, labels)]
    before = _overlapping_pairs(fig, probes)
    assert before > 200 and after == 0, (before, after)
    for p, t in zip(points, labels):
        assert t.xy == pytest.approx((p.x, p.y))
        centre = ax.transData.transform(t.get_position())
        if np.hypot(*(centre - ax.transData.transform((p.x, p.y)))) > 30:  # clearly moved
            assert t.arrow_patch is not None


def test_phate_used_with_enough_points_and_pca_fallback_announced():
    rng = np.random.default_rng(0)
    coords, method, note = layout.layout_2d(rng.standard_normal((6, 32)))
    assert method == "PCA" and "PHATE" in note and "6 points" in note
    coords, method, note = layout.layout_2d(rng.standard_normal((40, 32)))
    assert method == "PHATE" and note is None and coords.shape == (40, 2) and np.all(np.isfinite(coords))


# -- fonts ------------------------------------------------------------------------------
SAMPLES = {"ar": "الماء", "fa": "آب", "hi": "पानी", "th": "น้ำ", "he": "מים", "zh": "水", "ja": "ひと",
           "ko": "물", "el": "νερό", "ru": "вода", "vi": "nước", "de": "Wasser"}


def test_scripts_of_words():
    assert fonts.scripts_of("الماء") == ("ARABIC",)
    assert fonts.scripts_of("पानी") == ("DEVANAGARI",)
    assert fonts.scripts_of("ひと水") == ("CJK",)
    assert fonts.scripts_of("nước") == ("LATIN",)
    assert fonts.scripts_of("e\u0301") == ("LATIN",)  # a combining accent has no script of its own
    assert fonts.scripts_of("to eat (food)") == ("LATIN",)


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="fontconfig's fc-list is the independent oracle")
@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_a_word_is_drawn_whenever_fontconfig_knows_a_font_for_it(language):
    """The old check looked at matplotlib's bundled DejaVu subset and drew Arabic, Persian and
    Hindi as English glosses although system fonts had them. Now: fontconfig lists a font
    covering the word => the word is drawn, in a family that really has its glyphs."""
    from fontTools.ttLib import TTFont
    from matplotlib import font_manager

    word = SAMPLES[language]
    charset = " ".join(f"{ord(c):x}" for c in word)
    listed = subprocess.run(["fc-list", f":charset={charset}", "family"], capture_output=True, text=True).stdout
    if not listed.strip():
        pytest.skip(f"no font on this machine covers {language}")
    family = fonts.font_for(word, language)
    assert family is not None
    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    cmap = TTFont(path, fontNumber=0, lazy=True).getBestCmap()
    assert all(ord(c) in cmap for c in word)
    needs_shaping = bool(set(fonts.scripts_of(word)) & fonts.COMPLEX_SCRIPTS)
    assert fonts.can_draw(word, language) == (fonts.native_shaping() or not needs_shaping)
    if fonts.can_draw(word, language):
        assert fonts.label_for(word, "water", language) == (word, family)


def test_matplotlib_311_shapes_complex_scripts_itself():
    import matplotlib

    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    assert fonts.native_shaping() == ((major, minor) >= (3, 11))


def test_han_characters_get_the_regional_cut_of_their_language():
    if fonts.font_for("水", "ja") is None or not fonts.font_for("水", "ja").startswith("Noto Sans CJK"):
        pytest.skip("Noto CJK not installed")
    assert fonts.font_for("水", "ja") == "Noto Sans CJK JP"
    assert fonts.font_for("水", "zh") == "Noto Sans CJK SC"
    assert fonts.font_for("물", "ko") == "Noto Sans CJK KR"


def test_word_without_any_font_is_labelled_with_its_gloss_and_the_hint_names_the_package(monkeypatch):
    assert not fonts.can_draw("\U0010fffd")
    assert fonts.label_for("\U0010fffd", "you (singular)", "xx")[0] == "you [xx]"
    assert fonts.label_for("Wasser", "water", "de") == ("Wasser", "DejaVu Sans")
    real = fonts.font_for
    monkeypatch.setattr(fonts, "font_for", lambda text, language=None: None if language in ("zh", "hi") else real(text, language))
    hint = fonts.install_hint({"zh": ["水"], "hi": ["पानी"], "de": ["Wasser"]})
    assert "hi, zh" in hint and "fonts-noto-cjk" in hint and "fonts-noto-core" in hint and "de" not in hint.split(":")[0]
    assert fonts.install_hint({"de": ["Wasser"]}) is None


def test_without_a_shaping_engine_arabic_and_hindi_fall_back_to_glosses(monkeypatch):
    if fonts.font_for("الماء", "ar") is None:
        pytest.skip("no Arabic font installed")
    monkeypatch.setattr(fonts, "native_shaping", lambda: False)
    assert fonts.label_for("الماء", "water", "ar")[0] == "water [ar]"
    assert fonts.label_for("νερό", "water", "el")[0] == "νερό"  # Greek needs no shaping
    assert "cannot shape ar" in fonts.install_hint({"ar": ["الماء"]})


# -- commands ---------------------------------------------------------------------------
def test_affinity_png_is_a_real_image_of_the_right_size(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plot_words, "embed_words", fake_embed)
    out = tmp_path / "fig.png"
    assert main(["plot", "affinity", "-m", "test/fake", "--languages", "en,zh,ar,hi", "--concepts", "12",
                 "--output", str(out)]) == 0
    assert_real_png(out, (1400, 1050))
    captured = capsys.readouterr()
    assert "SA = " in captured.out and "PHATE" in captured.out


def test_heatmap_title_is_the_task_score_and_the_scale_is_centred_on_half(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plot_words, "embed_words", fake_embed)
    out = tmp_path / "sa.png"
    assert main(["plot", "heatmap", "-m", "test/fake", "--languages", "en,de,zh,ar", "--output", str(out),
                 "--dpi", "50"]) == 0
    assert_real_png(out, (550, 475))
    # oracle: the task's own subsets en-X, each scored by the metric on its own
    task = plot_words.affinity_task(None)
    keys = task.words_to_embed(["en", "de", "zh", "ar"])
    matrix = np.stack([hashed_vector(word) for _, word in keys])
    rows = task.concept_rows({k: i for i, k in enumerate(keys)}, ["en", "de", "zh", "ar"])
    expected = np.mean([semantic_affinity(matrix, rows, ["en", x]).semantic_affinity for x in ("de", "zh", "ar")])
    assert f"SemanticAffinity score {expected:.3f}" in capsys.readouterr().out


def test_heatmap_colours_are_symmetric_around_no_alignment():
    matrix = np.array([[np.nan, 0.7], [0.45, np.nan]])
    assert colour_limits(matrix) == pytest.approx((0.3, 0.7))
    fig = draw_heatmap(matrix, ["en", "de"], title="t")
    image = fig.axes[0].images[0]
    assert image.norm(0.5) == pytest.approx(0.5) and image.get_cmap().name == "RdBu"
    assert colour_limits(np.array([[0.5]])) == pytest.approx((0.45, 0.55))  # never a zero-width scale


def test_bad_languages_are_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(plot_words, "embed_words", fake_embed)
    code = main(["plot", "affinity", "-m", "x", "--languages", "en,xx", "--output", str(tmp_path / "f.png")])
    assert code == 1 and "'xx' is not a language of swadesh207.jsonl" in capsys.readouterr().err


# -- retrieval pictures -----------------------------------------------------------------
@pytest.fixture
def two_models(tmp_path):
    write_model(tmp_path, "org/model-a", 0, declared=["en", "de"])
    write_model(tmp_path, "org/model-b", 1, declared=None)
    return tmp_path


def test_multi_by_language_draws_the_stored_scores_x100(two_models):
    models = find_results(two_models, ["org/model-a", "org/model-b"])
    ax = retrieval.draw_multi_by_language(models).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(TARGETS)
    # scatter collections: per model, q-X (filled) then q-en (hollow)
    for k, model in enumerate(models):
        for j, series in enumerate(("multi:q-X", "multi:q-en")):
            ys = np.asarray(ax.collections[3 * k + 1 + j].get_offsets())[:, 1].tolist()
            assert ys == pytest.approx([100 * value(k, series, x) for x in TARGETS])


def test_preference_bars_and_chance_levels(two_models):
    models = find_results(two_models, None)
    fig = retrieval.draw_language_preference(models)
    for k, ax in enumerate(fig.axes[:2]):
        heights = [round(b.get_height(), 6) for b in ax.patches]
        expected = [round(100 * value(k, s, x), 6) for s in ("preference:q-X", "preference:q-en") for x in TARGETS]
        assert heights == expected
        chance = np.concatenate([np.asarray(c.get_offsets()[:, 1]) for c in ax.collections]).tolist()
        assert chance == pytest.approx([100 * CHANCE] * 2 * len(TARGETS))
        assert ax.get_ylim()[1] >= 100 and ax.get_ylim()[0] == 0  # honest axis: 0-100 %


def test_scenario_bars(two_models):
    models = find_results(two_models, None)
    fig = retrieval.draw_multi_vs_mono(models)
    for k, ax in enumerate(fig.axes[:2]):
        heights = [round(b.get_height(), 6) for b in ax.patches]
        assert heights == [round(100 * value(k, s, x), 6) for s, _ in retrieval.SCENARIOS for x in TARGETS]


@pytest.mark.parametrize("kind", ["languages", "preference", "scenarios"])
def test_retrieval_command_writes_a_real_png(two_models, tmp_path, kind, capsys):
    out = tmp_path / f"{kind}.png"
    assert main(["plot", "retrieval", "--results", str(two_models), "-m", "org/model-a", "-m", "org/model-b",
                 "--kind", kind, "--output", str(out)]) == 0
    image = assert_real_png(out)
    assert image.size[0] >= 900 and image.size[1] >= 500
    assert "org/model-a, org/model-b" in capsys.readouterr().out


def test_old_scale_result_files_are_refused_with_their_path(two_models, tmp_path, capsys):
    path = next(two_models.glob("org__model-a/rev1/MultiRefCLIR.json"))
    data = json.loads(path.read_text())
    data["scores"]["test"][0]["main_score"] = 86.69
    path.write_text(json.dumps(data))
    code = main(["plot", "retrieval", "--results", str(two_models), "-m", "org/model-a",
                 "--output", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 1 and "MultiRefCLIR.json" in err and "86.69" in err and "0-1" in err


def test_unknown_model_is_a_one_line_error(two_models, tmp_path, capsys):
    code = main(["plot", "retrieval", "--results", str(two_models), "-m", "org/none", "--output", str(tmp_path / "x.png")])
    assert code == 1 and "no results for model 'org/none'" in capsys.readouterr().err


def test_results_without_the_pictured_task_are_a_one_line_error(tmp_path, capsys):
    folder = write_model(tmp_path, "org/model-a", 0, declared=None)
    for task in ("MultiRefCLIR", "MultiRefCLIR-Multi1", "MultiRefCLIR-MonoSame", "MultiRefCLIR-MonoCross"):
        (folder / f"{task}.json").unlink()
    code = main(["plot", "retrieval", "--results", str(tmp_path), "--output", str(tmp_path / "x.png")])
    assert code == 1 and "no MultiRefCLIR results for org/model-a" in capsys.readouterr().err
