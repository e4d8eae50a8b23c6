"""The paper's alignment objective as a sentence-transformers loss module.

    L = L_JSD + L_NCE
    L_JSD = sqrt(JSD(softmax(z_en) || softmax(z_tgt)) + eps)   softmax over the embedding dimensions,
            JSD(p||q) = KL(p||m)/2 + KL(q||m)/2, m = (p+q)/2, natural log; averaged over the batch
    L_NCE = InfoNCE(English query -> target-language document): cross-entropy over the batch's
            target documents (in-batch negatives) of scale * cos(q_en, d_tgt), the diagonal the positive

`objective` picks the ablation: "both" (the paper), "jsd", "nce", or "doc-doc" (InfoNCE between the
English and the target-language document, the usual parallel-data baseline, no JSD).

Columns of the training set: (query, en, tgt) for triples, or (en, tgt) for pairs, where the English
sentence is both the query and the English document (see xalign_align.pairs.Example).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from xalign_align.objectives import OBJECTIVES


def jsd_loss(z_en: Tensor, z_tgt: Tensor, eps: float = 1e-8) -> Tensor:
    """mean over rows of sqrt(JSD(softmax(z_en) || softmax(z_tgt)) + eps), softmax over dimensions."""
    log_p = F.log_softmax(z_en.float(), dim=-1)
    log_q = F.log_softmax(z_tgt.float(), dim=-1)
    log_m = torch.logsumexp(torch.stack([log_p, log_q]), dim=0) - torch.log(torch.tensor(2.0, device=z_en.device))
    kl_pm = (log_p.exp() * (log_p - log_m)).sum(-1)
    kl_qm = (log_q.exp() * (log_q - log_m)).sum(-1)
    jsd = 0.5 * kl_pm + 0.5 * kl_qm
    return torch.sqrt(jsd.clamp_min(0) + eps).mean()


def info_nce(queries: Tensor, docs: Tensor, scale: float = 20.0) -> Tensor:
    """Cross-entropy of scale * cos(query_i, doc_j) over j, positive j = i (in-batch negatives)."""
    scores = F.normalize(queries.float(), dim=-1) @ F.normalize(docs.float(), dim=-1).T * scale
    return F.cross_entropy(scores, torch.arange(len(queries), device=queries.device))


class AlignmentLoss(nn.Module):
    def __init__(self, model, objective: str = "both", scale: float = 20.0, eps: float = 1e-8):
        super().__init__()
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, not {objective!r}")
        self.model = model
        self.objective = objective
        self.scale = scale
        self.eps = eps

    def forward(self, sentence_features, labels: Tensor | None = None) -> Tensor:
        embeddings = [self.model(features)["sentence_embedding"] for features in sentence_features]
        return self.compute_loss_from_embeddings(embeddings)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor]) -> Tensor:
        if len(embeddings) == 3:
            query, doc_en, doc_tgt = embeddings
        elif len(embeddings) == 2:
            doc_en, doc_tgt = embeddings
            query = doc_en  # pairs: the English sentence is the query and the English document
        else:
            raise ValueError(f"expected (query, en, tgt) or (en, tgt) columns, got {len(embeddings)}")
        if self.objective == "doc-doc":
            return info_nce(doc_en, doc_tgt, self.scale)
        loss = doc_tgt.new_zeros((), dtype=torch.float32)
        if self.objective in ("both", "jsd"):
            loss = loss + jsd_loss(doc_en, doc_tgt, self.eps)
        if self.objective in ("both", "nce"):
            loss = loss + info_nce(query, doc_tgt, self.scale)
        return loss

    @property
    def citation(self) -> str:
        return ""

    def get_config_dict(self) -> dict:
        return {"objective": self.objective, "scale": self.scale, "eps": self.eps}
