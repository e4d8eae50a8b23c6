"""`xalign check-plugin NAME`: does a model plugin behave as every task here assumes?

NAME is a model name or a plugin name (then every model that plugin registers is checked).
Each model is loaded through `mteb.get_model` and fed through mteb's own DataLoader, as a
task would, with no embedding cache in between. The checks:

  load          mteb.get_model works
  shape         (n, embed_dim) for query, document and no role; embed_dim as the meta says
  dtype         float32
  finite        no NaN or inf
  normalised    every row has L2 norm 1 (cosine = dot product, which the metrics assume)
  deterministic the same texts encoded twice, and a text repeated in a batch, give the same vectors
  empty         "" encodes to a finite unit vector
  long text     20,000 characters encode (truncated or windowed, not an error)
  scripts       Arabic, Chinese, Thai and Hindi encode, and not all to the same vector
  batching      one batch vs one text at a time give the same vectors (within --tolerance)
  roles         a model with prompts (use_instructions) gives queries and documents different vectors

Prints a pass/fail table per model; exits 1 if any check failed ("warn" does not fail).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mteb_xalign import mteb_bridge, plugins
from mteb_xalign.errors import UserError
from mteb_xalign.text_rules import MAX_TEXT_CHARS

TEXTS = [
    "The cat sleeps on the warm windowsill.",
    "Der Hund bellt den Briefträger an.",
    "El perro ladra al cartero.",
    "Le marché ouvre à huit heures.",
    "Собака лает на почтальона.",
    "Bu akşam yağmur yağacak.",
]
SCRIPTS = {
    "Arabic": "الكلب ينبح على ساعي البريد في الصباح.",
    "Chinese": "那只狗每天早上对着邮递员叫。",
    "Thai": "สุนัขเห่าบุรุษไปรษณีย์ทุกเช้า",
    "Hindi": "कुत्ता हर सुबह डाकिये पर भौंकता है।",
}
LONG_CHARS = MAX_TEXT_CHARS  # the longest text a data file may hold: every adapter must take it

PASS, FAIL, WARN = "pass", "FAIL", "warn"


@dataclass
class Check:
    name: str
    status: str
    detail: str = ""


def long_text(n_chars: int = LONG_CHARS) -> str:
    words = ("alignment retrieval language river mountain bridge library window garden "
             "music theory number question answer evidence history science").split()
    out, i = [], 0
    while sum(len(w) + 1 for w in out) < n_chars:
        out.append(words[(i * 7 + i // len(words)) % len(words)])
        i += 1
    return " ".join(out)[:n_chars]


def encode(model: Any, texts: list[str], prompt_type: Any, *, batch_size: int, task_metadata: Any = None) -> np.ndarray:
    """Encode as an mteb task does: mteb's DataLoader into model.encode, no cache.

    Only the row count is checked here (every later check compares rows with texts); dtype,
    dimension and values are the checks' business."""
    from mteb_xalign.feeding import feed  # deferred: datasets, mteb are slow to import

    vectors = feed(model, texts, task_metadata=task_metadata or probe_task_metadata(), prompt_type=prompt_type,
                   batch_size=batch_size)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise UserError(f"returned embeddings of shape {vectors.shape} for {len(texts)} texts")
    return vectors


def _failure(exc: Exception) -> str:
    """One line: our own refusals as they are; a plugin's exception with its type (it helps its author)."""
    text = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def probe_task_metadata():
    """A retrieval task's metadata (mteb's mock), so query and document roles both exist."""
    from mteb.mocks.mock_tasks.retrieval import MockRetrievalTask  # deferred: mteb is slow to import

    return MockRetrievalTask().metadata


def check_model(name: str, *, device: str | None = None, batch_size: int = 8, tolerance: float = 1e-4) -> list[Check]:
    # deferred: mteb is slow to import
    import mteb
    from mteb.types import PromptType

    checks: list[Check] = []
    start = time.perf_counter()
    try:
        model = mteb.get_model(name, device=device)
    except Exception as exc:  # noqa: BLE001 -- report, do not crash the table
        return [Check("load", FAIL, _failure(exc))]
    checks.append(Check("load", PASS, f"{time.perf_counter() - start:.1f}s"))
    meta = getattr(model, "mteb_model_meta", None)
    want_dim = meta.embed_dim if meta is not None and isinstance(meta.embed_dim, int) else None
    roles = {"query": PromptType.query, "document": PromptType.document, "none": None}

    def run(label: str, fn: Callable[[], np.ndarray]) -> np.ndarray | None:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001
            checks.append(Check(label, FAIL, _failure(exc)))
            return None

    outputs: dict[str, np.ndarray] = {}
    start = time.perf_counter()
    for role, prompt_type in roles.items():
        vecs = run(f"encode {role}", lambda pt=prompt_type: encode(model, TEXTS, pt, batch_size=batch_size))
        if vecs is not None:
            outputs[role] = vecs
    if not outputs:
        return checks
    elapsed = time.perf_counter() - start

    shapes = {role: v.shape for role, v in outputs.items()}
    dims = {s[1] if len(s) == 2 else None for s in shapes.values()}
    bad_shape = [r for r, s in shapes.items() if len(s) != 2 or s[0] != len(TEXTS)]
    if bad_shape or len(dims) != 1 or (want_dim is not None and dims != {want_dim}):
        checks.append(Check("shape", FAIL, f"{shapes}, meta embed_dim={want_dim}, expected ({len(TEXTS)}, dim)"))
    else:
        checks.append(Check("shape", PASS, f"({len(TEXTS)}, {dims.pop()}) x {len(outputs)} roles in {elapsed:.2f}s"))
    dtypes = {str(v.dtype) for v in outputs.values()}
    checks.append(Check("dtype", PASS if dtypes == {"float32"} else FAIL, ",".join(sorted(dtypes))))
    every = np.concatenate([v.reshape(len(v), -1) for v in outputs.values()]).astype(np.float64)
    finite = bool(np.isfinite(every).all())
    checks.append(Check("finite", PASS if finite else FAIL, "" if finite else "NaN or inf in output"))
    if not finite:
        return checks
    norms = np.linalg.norm(every, axis=1)
    worst = float(np.abs(norms - 1).max())
    dot = _declares_dot(model)
    if dot:
        checks.append(Check("normalised", PASS, f"dot-product model (norms {norms.min():.3g}..{norms.max():.3g})"))
    else:
        checks.append(Check("normalised", PASS if worst < 1e-3 else FAIL, f"max |norm-1| = {worst:.2e}"))

    query = outputs.get("query")
    if query is not None:
        again = run("deterministic", lambda: encode(model, TEXTS, PromptType.query, batch_size=batch_size))
        dup = run("deterministic", lambda: encode(model, [TEXTS[0], TEXTS[1], TEXTS[0]], PromptType.query,
                                                  batch_size=batch_size))
        if again is not None and dup is not None:
            diff = max(float(np.abs(again - query).max()), float(np.abs(dup[0] - dup[2]).max()))
            checks.append(Check("deterministic", PASS if diff <= 1e-5 else FAIL, f"max |diff| = {diff:.1e}"))

    for role, prompt_type in (("query", PromptType.query), ("document", PromptType.document)):
        vec = run(f"empty ({role})", lambda pt=prompt_type: encode(model, [""], pt, batch_size=batch_size))
        if vec is not None:
            checks.append(_unit_check(f"empty ({role})", vec, want_dim, unit=not dot))

    text = long_text()
    start = time.perf_counter()
    vec = run("long text", lambda: encode(model, [text], PromptType.document, batch_size=batch_size))
    if vec is not None:
        check = _unit_check("long text", vec, want_dim, unit=not dot)
        check.detail = f"{len(text):,} chars in {time.perf_counter() - start:.2f}s; {check.detail}".rstrip("; ")
        checks.append(check)

    vec = run("scripts", lambda: encode(model, list(SCRIPTS.values()), PromptType.query, batch_size=batch_size))
    if vec is not None:
        check = _unit_check("scripts", vec, want_dim, unit=not dot)
        if check.status == PASS:
            sims = vec @ vec.T
            off = sims[~np.eye(len(vec), dtype=bool)]
            if float(off.min()) > 0.999:
                check = Check("scripts", WARN, "all four scripts map to the same vector (unknown tokens?)")
            else:
                check.detail = f"{', '.join(SCRIPTS)}; max cross-script cosine {float(off.max()):.3f}"
        checks.append(check)

    if query is not None:
        single = run("batching", lambda: encode(model, TEXTS, PromptType.query, batch_size=1))
        if single is not None:
            checks.append(_batching_check(query, single, batch_size, tolerance))

    if "query" in outputs and "document" in outputs:
        same = float(np.abs(outputs["query"] - outputs["document"]).max()) < 1e-6
        uses_prompts = bool(meta is not None and meta.use_instructions)
        if uses_prompts and same:
            checks.append(Check("roles", WARN, "use_instructions=True but queries and documents encode identically"))
        else:
            checks.append(Check("roles", PASS, "query != document" if not same else "query == document (no prompts)"))
    return checks


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - cosine per row pair, clamped to [0, 2]: float32 rounding puts a cosine a hair above 1,
    and a distance is never negative."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.clip(1 - np.nan_to_num(cosine, nan=0.0), 0.0, 2.0)


def _batching_check(batched: np.ndarray, single: np.ndarray, batch_size: int, tolerance: float) -> Check:
    gap = float(cosine_distance(single, batched).max())
    return Check("batching", PASS if gap <= tolerance else FAIL,
                 f"batch {batch_size} vs 1: max cosine distance {gap:.1e} (tolerance {tolerance:g})")


def _declares_dot(model: Any) -> bool:
    from mteb_xalign.adapter import declares_dot  # deferred: mteb is slow to import

    return declares_dot(model)


def _unit_check(label: str, vec: np.ndarray, want_dim: int | None, *, unit: bool = True) -> Check:
    if vec.ndim != 2 or (want_dim is not None and vec.shape[1] != want_dim):
        return Check(label, FAIL, f"shape {vec.shape}")
    if str(vec.dtype) != "float32" or not np.isfinite(vec).all():
        return Check(label, FAIL, f"dtype {vec.dtype}, finite={bool(np.isfinite(vec).all())}")
    if not unit:  # a dot-product model: any norm is its answer
        return Check(label, PASS, "")
    worst = float(np.abs(np.linalg.norm(vec.astype(np.float64), axis=1) - 1).max())
    return Check(label, PASS if worst < 1e-3 else FAIL, "" if worst < 1e-3 else f"max |norm-1| = {worst:.2e}")


def resolve_names(names: list[str]) -> list[str]:
    """Model names to check: each NAME is a model, or a plugin whose models are all checked."""

    mteb_bridge.ensure_registered()
    registered = plugins.get_models()
    models = {meta.name for _, meta in registered}
    found: list[str] = []
    for name in names:
        if name in models:
            found.append(name)
            continue
        of_plugin = sorted(meta.name for plugin, meta in registered if plugin == name)
        if of_plugin:
            found.extend(of_plugin)
            continue
        failed = [err for err in plugins.load_errors if err.name == name]
        if failed:
            raise UserError(f"plugin '{name}' failed to load: {failed[0].error}")
        import mteb  # deferred: mteb is slow to import

        try:
            mteb.get_model_meta(name)  # an mteb model that no plugin registered: check it too
            found.append(name)
        except KeyError:
            raise UserError(f"no model or plugin named '{name}' (see `xalign models` and `xalign plugins`)") from None
    return list(dict.fromkeys(found))


def _print_table(model: str, checks: list[Check]) -> None:
    width = max(len(c.name) for c in checks)
    print(f"\n{model}")
    for c in checks:
        print(f"  {c.status:<4}  {c.name:<{width}}  {c.detail}")


def _run(args: argparse.Namespace) -> int:
    names = resolve_names(args.names)
    failed: list[str] = []
    for name in names:
        checks = check_model(name, device=args.device, batch_size=args.batch_size, tolerance=args.tolerance)
        _print_table(name, checks)
        if any(c.status == FAIL for c in checks):
            failed.append(name)
    print()
    if failed:
        print(f"check-plugin: {len(failed)} of {len(names)} model(s) FAILED: {', '.join(failed)}")
        return 1
    print(f"check-plugin: all {len(names)} model(s) passed")
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-plugin", help="conformance checks for a model plugin (or one model)",
        description=__doc__.split("\n", 1)[1].strip(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="+", metavar="NAME", help="model name or plugin name")
    parser.add_argument("--device", default=None, help="cuda | cpu | mps | N (default: auto)")
    parser.add_argument("--batch-size", type=int, default=8, help="MTEB batch size for the batched runs")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="max cosine distance between batched and one-at-a-time vectors (default 1e-4)")
    parser.set_defaults(func=_run)

