"""Each loss against a hand computation on tiny tensors."""

import math

import pytest

torch = pytest.importorskip("torch")

from xalign_align.losses import AlignmentLoss, info_nce, jsd_loss  # noqa: E402


def _jsd_by_hand(p, q):
    m = [(a + b) / 2 for a, b in zip(p, q)]
    kl = lambda x, y: sum(a * math.log(a / b) for a, b in zip(x, y))  # noqa: E731
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def test_jsd_softmax_over_dimensions_sqrt_and_eps():
    # Row 1: z_en = (0, 0) -> p = (1/2, 1/2); z_tgt = (ln 3, 0) -> q = (3/4, 1/4).
    # Row 2: identical rows -> JSD 0 -> the loss is sqrt(eps).
    eps = 1e-4
    z_en = torch.tensor([[0.0, 0.0], [1.0, -2.0]])
    z_tgt = torch.tensor([[math.log(3.0), 0.0], [1.0, -2.0]])
    row1 = math.sqrt(_jsd_by_hand([0.5, 0.5], [0.75, 0.25]) + eps)
    row2 = math.sqrt(0.0 + eps)
    assert jsd_loss(z_en, z_tgt, eps=eps).item() == pytest.approx((row1 + row2) / 2, rel=1e-6)


def test_jsd_is_symmetric_and_shift_invariant_per_row():
    a, b = torch.tensor([[0.3, -1.0, 2.0]]), torch.tensor([[1.0, 0.0, -0.5]])
    assert jsd_loss(a, b).item() == pytest.approx(jsd_loss(b, a).item(), rel=1e-6)
    # softmax over dimensions ignores a constant added to a row
    assert jsd_loss(a + 5.0, b).item() == pytest.approx(jsd_loss(a, b).item(), rel=1e-5)


def test_info_nce_cosine_in_batch_negatives():
    # Queries (1,0), (0,1); documents (2,0) and (3,3): cosines 1, 1/sqrt2 / 0, 1/sqrt2 (norms must not matter).
    s = 5.0
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    d = torch.tensor([[2.0, 0.0], [3.0, 3.0]])
    r = 1 / math.sqrt(2)
    row1 = -math.log(math.exp(s * 1) / (math.exp(s * 1) + math.exp(s * r)))
    row2 = -math.log(math.exp(s * r) / (math.exp(s * 0) + math.exp(s * r)))
    assert info_nce(q, d, scale=s).item() == pytest.approx((row1 + row2) / 2, rel=1e-6)


class _Identity(torch.nn.Module):
    def forward(self, features):
        return {"sentence_embedding": features["x"]}


def test_objectives_combine_the_terms_and_pairs_use_english_as_query():
    model = _Identity()
    query = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    en = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    tgt = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.5, 1.0]])
    feats3 = [{"x": query}, {"x": en}, {"x": tgt}]
    loss = lambda obj, feats: AlignmentLoss(model, objective=obj)(feats).item()  # noqa: E731
    assert loss("jsd", feats3) == pytest.approx(jsd_loss(en, tgt).item())
    assert loss("nce", feats3) == pytest.approx(info_nce(query, tgt, 20.0).item())
    assert loss("both", feats3) == pytest.approx(jsd_loss(en, tgt).item() + info_nce(query, tgt, 20.0).item())
    assert loss("doc-doc", feats3) == pytest.approx(info_nce(en, tgt, 20.0).item())
    # pairs: (en, tgt), the English sentence is the query
    assert loss("nce", [{"x": en}, {"x": tgt}]) == pytest.approx(info_nce(en, tgt, 20.0).item())
    with pytest.raises(ValueError):
        AlignmentLoss(model, objective="kl")
