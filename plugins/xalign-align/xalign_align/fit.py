"""`xalign align fit`: encode the training pairs with the base model, fit a map, write the artifact."""

from __future__ import annotations

import inspect
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from mteb.types import PromptType

from xalign_align import artifact as artifact_mod
from xalign_align import maps
from xalign_align.pairs import PIVOT, TrainingSet

ROLES = {"query": PromptType.query, "document": PromptType.document}


def embed(model: Any, texts: list[str], role: PromptType, languages: list[str] | None = None,
          task_metadata: Any = None, label: str | None = None) -> np.ndarray:
    """Base vectors through the shared cache, in the encoding context of the evaluation task;
    `label` names the texts in the progress line (they are not that task's texts)."""
    from mteb_xalign.encoding import embed_texts

    from xalign_align.adapter import default_task_metadata

    kwargs: dict[str, Any] = {}
    accepted = inspect.signature(embed_texts).parameters
    if languages is not None and "languages" in accepted:
        kwargs["languages"] = languages
    if label is not None and "label" in accepted:
        kwargs["label"] = label
    return embed_texts(model, texts, prompt_type=role, task_metadata=task_metadata or default_task_metadata(),
                       **kwargs)


def distinct_roles(model: Any, roles: list[str]) -> list[str]:
    """`roles` less those that encode exactly like an earlier one (a model without role prompts):
    fitting on identical rows twice would only double the encoding time."""
    probe = ["Where is the station?", "Der Bahnhof ist dort drüben.", "车站在哪里？"]
    kept: list[tuple[str, np.ndarray]] = []
    for role in roles:
        vectors = embed(model, probe, ROLES[role], label=f"probe of the {role} role")
        if not any(np.array_equal(vectors, other) for _, other in kept):
            kept.append((role, vectors))
    return [role for role, _ in kept]


def parallel_texts(examples) -> list[tuple[str, str]]:
    """(X text, English text) pairs of a language, each once: a pair's two sides, or a triple's two
    documents and, when it has the question in X, the question and its English original."""
    seen: dict[tuple[str, str], None] = {}
    for ex in examples:
        seen.setdefault((ex.text, ex.en))
        if ex.query is not None and ex.query_x is not None:
            seen.setdefault((ex.query_x, ex.query))
    return list(seen)


def encode_pairs(model: Any, data: TrainingSet, roles: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{lang: (X-side vectors, English-side vectors)}, the roles' rows stacked."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for lang, examples in sorted(data.by_language().items()):
        pairs = parallel_texts(examples)
        xs, es = [], []
        what = f"training pairs ({data.name} {lang}-{PIVOT})"
        for role in roles:
            xs.append(embed(model, [x for x, _ in pairs], ROLES[role], [lang] * len(pairs),
                            label=f"{what}, {lang} side"))
            es.append(embed(model, [e for _, e in pairs], ROLES[role], [PIVOT] * len(pairs),
                            label=f"{what}, {PIVOT} side"))
        out[lang] = (np.concatenate(xs), np.concatenate(es))
    return out


def fit_artifact(model_name: str, method: str, data: TrainingSet, out: Path, *, name: str | None = None,
                 rank: int = 1, unfitted: str = "error", roles: list[str] = ("query", "document"),
                 device: str | None = None, sgd_steps: int = 3000, extra_card: dict | None = None,
                 log=print) -> artifact_mod.Artifact:
    import mteb

    from xalign_align.langid import identifier_name
    from xalign_align.registry import base_facts

    meta = mteb.get_model_meta(model_name)
    distinct = {lang: len(parallel_texts(examples)) for lang, examples in data.by_language().items()}
    if isinstance(meta.embed_dim, int):  # checked before the model loads; maps.fit checks the vectors too
        maps.check_enough_pairs(method, distinct, meta.embed_dim)
        for warning in maps.underdetermined(method, distinct, meta.embed_dim):
            print(f"warning: {warning} (recorded in the card)", file=sys.stderr)
    model = meta.load_model(device=device)
    roles = distinct_roles(model, list(roles))
    started = time.perf_counter()
    pairs = encode_pairs(model, data, roles)
    encode_s = time.perf_counter() - started
    log(f"encoded {sum(len(x) for x, _ in pairs.values())} pairs ({len(pairs)} languages) in {encode_s:.1f}s")
    started = time.perf_counter()
    fitted = maps.fit(method, pairs, pivot=PIVOT, rank=rank, sgd_steps=sgd_steps)
    fit_s = time.perf_counter() - started
    log(f"fitted {method} in {fit_s:.2f}s")
    tensors = fitted.tensors()
    card = {
        "kind": "map",
        "name": name or artifact_mod.default_name(meta.name, method, data.name),
        "method": method,
        "params": {"rank": rank} if method == "subspace" else ({"steps": sgd_steps} if method == "linear-sgd" else {}),
        "base_model": meta.name,
        "base_revision": meta.revision,
        "base_meta": base_facts(meta),
        "embed_dim": fitted.dim,
        "pivot": PIVOT,
        "languages": fitted.languages,
        "unfitted_language": unfitted,
        "needs_language": fitted.per_language,
        "language_identifier": (
            f"{identifier_name()}, restricted to the fitted languages; used only when the caller passes no "
            "languages (xalign's own tasks always pass them)" if fitted.per_language else None),
        "roles": list(roles),
        "encoding_context": "task MultiRefCLIR (its instruction, if the model uses one)",
        "training_data": {"name": data.name, "kind": data.kind, "digest": data.digest,
                          "n_examples": len(data.examples),
                          "per_language": {lang: len(v) for lang, v in sorted(data.by_language().items())},
                          "distinct_pairs": dict(sorted(distinct.items()))},
        "n_map_parameters": int(sum(t.size for t in tensors.values())),
        "fit_diagnostics": fitted.info,
        "fit_seconds": round(fit_s, 3),
        "encode_seconds": round(encode_s, 1),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **(extra_card or {}),
    }
    art = artifact_mod.save(out, card, tensors)
    print(f"wrote {out} ({art.name}, revision {art.revision})", file=sys.stderr)
    return art
