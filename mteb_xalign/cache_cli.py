"""`xalign cache`: where the embedding cache is, how big, what it holds; prune or clear it.

    xalign cache                      location, size, rows per model
    xalign cache prune --model NAME   delete one model's embeddings (every revision)
    xalign cache clear --yes          delete every embedding

Rows written before this version were not attributed to a model; they are listed as
"(unattributed)" and only `clear` removes them.
"""

from __future__ import annotations

import argparse
from typing import Any

from mteb_xalign.cache import EmbeddingCache, cache_settings
from mteb_xalign.errors import UserError

UNATTRIBUTED = "(unattributed: written before rows named their model)"


def _open():
    settings = cache_settings()
    if settings.path is None:
        raise UserError("the embedding cache is off (XALIGN_CACHE=off): nothing to show or change")
    return EmbeddingCache(settings.path)


def _size(n_bytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    raise AssertionError


def _show(args: argparse.Namespace) -> int:
    settings = cache_settings()
    if settings.path is None:
        print("embedding cache: off (XALIGN_CACHE=off)")
        return 0
    print(f"embedding cache: {settings.path}")
    if not settings.path.exists():
        print("(empty: no file yet)")
        return 0
    cache = _open()
    rows = cache.rows_per_model()
    print(f"size: {_size(cache.size_bytes())}, {sum(n for _, n in rows):,} embeddings"
          + ("" if cache.writable else " (read-only)"))
    if rows:
        width = max(len(name or UNATTRIBUTED) for name, _ in rows)
        print(f"\n{'model':<{width}}  {'rows':>10}")
        for name, n in rows:
            print(f"{name or UNATTRIBUTED:<{width}}  {n:>10,}")
    return 0


def _prune(args: argparse.Namespace) -> int:
    cache = _open()
    known = {name for name, _ in cache.rows_per_model() if name}
    if args.model not in known:
        hint = f"; it holds {', '.join(sorted(known))}" if known else ""
        raise UserError(f"the embedding cache {cache.path} has no rows of model {args.model!r}{hint}")
    n = cache.prune(args.model)
    print(f"deleted {n:,} embeddings of {args.model} from {cache.path} ({_size(cache.size_bytes())} now)")
    return 0


def _clear(args: argparse.Namespace) -> int:
    cache = _open()
    if not args.yes:
        raise UserError(f"this deletes all {len(cache):,} embeddings in {cache.path}: add --yes to confirm")
    n = cache.clear()
    print(f"deleted {n:,} embeddings from {cache.path}")
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cache", help="the embedding cache: location, size, rows per model; prune or clear",
        description=__doc__.split("\n", 1)[1].strip(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=_show)
    actions = parser.add_subparsers(dest="action")
    actions.add_parser("show", help="location, size, rows per model (the default)").set_defaults(func=_show)
    prune = actions.add_parser("prune", help="delete one model's embeddings")
    prune.add_argument("--model", required=True, metavar="NAME", help="model name, as `xalign models` lists it")
    prune.set_defaults(func=_prune)
    clear = actions.add_parser("clear", help="delete every embedding")
    clear.add_argument("--yes", action="store_true", help="confirm: really delete everything")
    clear.set_defaults(func=_clear)
