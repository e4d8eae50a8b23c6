"""Fine-tuning through sentence-transformers' trainer: a tiny random model's loss falls on CPU."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")


def _dataset_loss(model_dir, data, objective):
    from sentence_transformers import SentenceTransformer

    from xalign_align.losses import AlignmentLoss

    st = SentenceTransformer(str(model_dir), device="cpu")
    st.eval()
    loss = AlignmentLoss(st, objective=objective)
    ens = [ex.en for ex in data.examples]
    tgts = [ex.text for ex in data.examples]
    with torch.no_grad():
        e = st.encode(ens, convert_to_tensor=True)
        t = st.encode(tgts, convert_to_tensor=True)
    return loss.compute_loss_from_embeddings([e, t]).item()


def test_a_tiny_random_model_trains_and_its_loss_falls(tmp_path, tiny_model, tiny_pairs, isolated_env):
    from xalign_align import artifact
    from xalign_align.pairs import load_training_set
    from xalign_align.train import train

    data = load_training_set(tiny_pairs)
    before = _dataset_loss(tiny_model, data, "both")
    art = train(str(tiny_model), data, tmp_path / "ft", objective="both", epochs=4, batch_size=16, lr=2e-3,
                warmup_ratio=0.15, device="cpu", log=lambda m: None)
    after = _dataset_loss(art.folder, data, "both")
    assert after < before - 0.05, (before, after)
    card = artifact.load(art.folder).card
    assert card["kind"] == "finetuned" and card["steps"] == 24  # 96 pairs / 16 x 4 epochs
    assert card["params"]["optimizer"] == "AdamW(0.9, 0.99, wd 0.01)" and card["params"]["columns"] == ["en", "tgt"]


def test_hybrid_sampling_needs_monolingual_pairs(tiny_pairs):
    from mteb_xalign.errors import UserError
    from xalign_align.pairs import load_training_set
    from xalign_align.train import columns_for

    with pytest.raises(UserError, match="needs monolingual pairs"):
        columns_for(load_training_set(tiny_pairs), "", "", hybrid=0.5)


def test_hybrid_batches_mix_monolingual_and_cross_lingual_rows():
    from xalign_align.train import hybrid_sampler

    mono = [i % 2 == 0 for i in range(64)]
    sampler = hybrid_sampler(mono, 0.25)(list(range(64)), batch_size=8, drop_last=False, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) > 0
    for batch in batches:
        assert sum(mono[i] for i in batch) == 2 and len(batch) == 8
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat))
