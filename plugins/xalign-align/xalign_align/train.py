"""`xalign align train`: fine-tune a sentence-transformers model with the paper's objective.

sentence-transformers' own SentenceTransformerTrainer runs the loop; this module only builds
the dataset, the loss (xalign_align.losses) and the arguments (the paper's defaults: 1 epoch,
batch 32, linear schedule with warm-up ratio 0.15, AdamW with betas 0.9/0.99 and weight decay
0.01, bf16 on a GPU that has it). The result is a sentence-transformers folder with a card.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mteb_xalign.errors import UserError

from xalign_align import artifact as artifact_mod
from xalign_align.pairs import TrainingSet

DEFAULT_LR = 2e-5  # the paper uses 1e-5..3e-5 per model


def columns_for(data: TrainingSet, query_prompt: str, doc_prompt: str, hybrid: float | None):
    """Training columns and, for hybrid sampling, which rows are monolingual.

    Pairs: (en, tgt), the English sentence both query and English document, unless the model
    prompts queries and documents differently, then (query, en, tgt) with query = the English
    sentence. Triples: (query, en, tgt). Hybrid: every triple gives a cross-lingual row (English
    query) and, when it has `query_x`, a monolingual row (target-language query, same documents).
    """
    rows: dict[str, list[str]] = {"query": [], "en": [], "tgt": []}
    mono: list[bool] = []
    for ex in data.examples:
        rows["query"].append(ex.anchor)
        rows["en"].append(ex.en)
        rows["tgt"].append(ex.text)
        mono.append(False)
        if hybrid is not None and ex.query_x is not None:
            rows["query"].append(ex.query_x)
            rows["en"].append(ex.en)
            rows["tgt"].append(ex.text)
            mono.append(True)
    if hybrid is not None and not any(mono):
        raise UserError("--hybrid needs monolingual pairs: triples with a target-language query ('query_x'); "
                        "pairs (e.g. Tatoeba) have none (their 'monolingual pair' would be a text and itself)")
    if data.kind == "pairs" and query_prompt == doc_prompt and hybrid is None:
        rows.pop("query")
    return rows, mono


def hybrid_sampler(mono: list[bool], fraction: float):
    """A batch-sampler factory for SentenceTransformerTrainingArguments(batch_sampler=...):
    every batch holds round(fraction * batch_size) monolingual rows, the rest cross-lingual."""
    from sentence_transformers.base.sampler import DefaultBatchSampler

    mono_rows = [i for i, m in enumerate(mono) if m]
    cross_rows = [i for i, m in enumerate(mono) if not m]

    class HybridBatchSampler(DefaultBatchSampler):
        def _plan(self) -> list[list[int]]:
            rng = random.Random(self.seed + getattr(self, "epoch", 0))
            m, c = mono_rows[:], cross_rows[:]
            rng.shuffle(m)
            rng.shuffle(c)
            n_mono = max(1, min(self.batch_size - 1, round(fraction * self.batch_size)))
            n_cross = self.batch_size - n_mono
            batches = []
            while len(m) >= n_mono and len(c) >= n_cross:
                batch = [m.pop() for _ in range(n_mono)] + [c.pop() for _ in range(n_cross)]
                rng.shuffle(batch)
                batches.append(batch)
            return batches

        def __iter__(self):
            yield from self._plan()

        def __len__(self) -> int:
            return len(self._plan())

    def build(dataset, batch_size, drop_last, valid_label_columns=None, generator=None, seed=0):
        return HybridBatchSampler(dataset, batch_size=batch_size, drop_last=drop_last,
                                  valid_label_columns=valid_label_columns, generator=generator, seed=seed)

    return build


def load_base(model_name: str, device: str | None):
    """(SentenceTransformer, ModelMeta or None, prompts) for a registered model or a local folder."""
    import mteb

    try:
        meta = mteb.get_model_meta(model_name)
    except KeyError:
        meta = None
    if meta is not None:
        encoder = meta.load_model(device=device)
        st = getattr(encoder, "model", None)
        from sentence_transformers import SentenceTransformer

        if not isinstance(st, SentenceTransformer):
            raise UserError(f"{model_name} is not a sentence-transformers model: `xalign align train` fine-tunes "
                            "those; use `xalign align fit` (training-free maps) for any model")
        return st, meta, dict(getattr(encoder, "prompts", {}) or {})
    if Path(model_name).is_dir():
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(model_name, device=device)
        return st, None, dict(st.prompts or {})
    raise UserError(f"unknown model {model_name!r}: a registered sentence-transformers model or a local folder")


def _warmup(ratio: float) -> dict:
    """Transformers 5 takes the warm-up ratio as a float `warmup_steps`; 4 as `warmup_ratio`."""
    import transformers

    return {"warmup_steps": float(ratio)} if int(transformers.__version__.split(".")[0]) >= 5 \
        else {"warmup_ratio": ratio}


def train(model_name: str, data: TrainingSet, out: Path, *, objective: str = "both", epochs: float = 1.0,
          batch_size: int = 32, lr: float = DEFAULT_LR, warmup_ratio: float = 0.15, max_steps: int = -1,
          hybrid: float | None = None, seed: int = 0, device: str | None = None, name: str | None = None,
          logging_steps: int = 1,
          extra_card: dict | None = None, log=print) -> artifact_mod.Artifact:
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers

    from xalign_align.losses import AlignmentLoss
    from xalign_align.registry import base_facts

    st, meta, prompts = load_base(model_name, device)
    query_prompt, doc_prompt = prompts.get("query", ""), prompts.get("document", "")
    rows, mono = columns_for(data, query_prompt, doc_prompt, hybrid)
    dataset = Dataset.from_dict(rows)
    column_prompts = {"query": query_prompt, "en": doc_prompt, "tgt": doc_prompt}
    column_prompts = {k: v for k, v in column_prompts.items() if k in rows and v}
    on_gpu = st.device.type == "cuda"
    bf16 = on_gpu and torch.cuda.is_bf16_supported()
    with tempfile.TemporaryDirectory(prefix="xalign-align-train-") as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch, num_train_epochs=epochs, max_steps=max_steps,
            per_device_train_batch_size=batch_size, learning_rate=lr, **_warmup(warmup_ratio),
            lr_scheduler_type="linear", optim="adamw_torch", adam_beta1=0.9, adam_beta2=0.99,
            weight_decay=0.01, bf16=bf16, fp16=on_gpu and not bf16, seed=seed, data_seed=seed,
            logging_steps=max(1, logging_steps), save_strategy="no", dataloader_pin_memory=on_gpu, report_to="none", disable_tqdm=True,
            prompts=column_prompts or None,
            batch_sampler=hybrid_sampler(mono, hybrid) if hybrid is not None else BatchSamplers.NO_DUPLICATES,
        )
        loss = AlignmentLoss(st, objective=objective)
        trainer = SentenceTransformerTrainer(model=st, args=args, train_dataset=dataset, loss=loss)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    log(f"trained {trainer.state.global_step} steps in {seconds:.0f}s; loss {losses[0]:.4f} -> {losses[-1]:.4f}"
        if losses else f"trained {trainer.state.global_step} steps")
    out.mkdir(parents=True, exist_ok=True)
    st.prompts = {**st.prompts, **prompts}
    st.save(str(out))
    base_name = meta.name if meta is not None else str(model_name)
    card = {
        "kind": "finetuned",
        "name": name or artifact_mod.default_name(base_name, f"{objective}-ft", data.name),
        "method": f"finetune-{objective}",
        "params": {"objective": objective, "epochs": epochs, "max_steps": max_steps, "batch_size": batch_size,
                   "lr": lr, "warmup_ratio": warmup_ratio, "schedule": "linear",
                   "optimizer": "AdamW(0.9, 0.99, wd 0.01)", "precision": "bf16" if bf16 else "fp32",
                   "hybrid_mono_fraction": hybrid, "seed": seed, "infonce_scale": loss.scale, "jsd_eps": loss.eps,
                   "columns": list(rows)},
        "base_model": base_name,
        "base_revision": meta.revision if meta is not None else None,
        "base_meta": base_facts(meta) if meta is not None else {},
        # sentence-transformers 5.x renamed get_sentence_embedding_dimension (kept as a deprecated alias).
        "embed_dim": int((getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension)()),
        "pivot": "en",
        "languages": data.languages,
        "unfitted_language": "identity",  # a fine-tuned model encodes any language: nothing is 'unmapped'
        "needs_language": False,
        "training_data": {"name": data.name, "kind": data.kind, "digest": data.digest,
                          "n_examples": len(data.examples),
                          "per_language": {lang: len(v) for lang, v in sorted(data.by_language().items())}},
        "steps": trainer.state.global_step,
        "loss_history": losses,
        "train_seconds": round(seconds, 1),
        "device": str(st.device),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **(extra_card or {}),
    }
    art = artifact_mod.save_finetuned(out, card)
    print(f"wrote {out} ({art.name}, revision {art.revision})", file=sys.stderr)
    return art
