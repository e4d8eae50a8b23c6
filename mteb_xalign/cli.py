"""`xalign`: run the alignment tasks, list what the plugins registered, plot, leaderboard.

Sub-commands that live in other modules (plot, leaderboard, check-plugin) expose
`add_parser(subparsers)`; plugins may add their own through the `register_commands` hook.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mteb_xalign import plugins
from mteb_xalign.errors import ReportedError
from mteb_xalign.listing import get_listing
from mteb_xalign.model_availability import availability_of
from mteb_xalign.table import format_table

# Modules that contribute sub-commands: each defines add_parser(subparsers).
_COMMAND_MODULES = (
    "mteb_xalign.run",
    "mteb_xalign.plots.cli",
    "mteb_xalign.report.cli",
    "mteb_xalign.leaderboard.cli",
    "mteb_xalign.conformance",
    "mteb_xalign.cache_cli",
    "mteb_xalign.stats.compare",
)


def _models(args: argparse.Namespace) -> int:
    listing = get_listing()
    rows = []
    for model in listing.models:
        state = availability_of(model["name"], model["loader"])  # decided now: keys and weights may have moved
        rows.append((model["name"], model["plugin"], ",".join(_short_langs(model["languages"])),
                     model["embed_dim"] or "?", "yes" if state.runnable else "NO", state.reason))
    print(format_table(("model", "plugin", "languages", "dim", "runs here", "why"), sorted(rows)))
    sys.stderr.write(listing.messages)
    for note in listing.notes.values():  # said here, once, not by every command
        print(f"note: {note}", file=sys.stderr)
    return 0


def _tasks(args: argparse.Namespace) -> int:
    listing = get_listing()
    print(format_table(("task", "plugin", "mteb type", "subsets", "main score"), listing.tasks))
    sys.stderr.write(listing.messages)
    return 0


def _plugins(args: argparse.Namespace) -> int:
    pm = plugins.load_plugins()
    rows = [(name, getattr(plugin, "__name__", type(plugin).__name__)) for name, plugin in pm.list_name_plugin()]
    print(format_table(("plugin", "module"), sorted(rows)))
    _report_errors(plugins)
    return 0


def _short_langs(languages) -> list[str]:
    if not languages:
        return ["?"]
    codes = sorted({code.split("-")[0] for code in languages})
    return codes if len(codes) <= 6 else codes[:6] + [f"+{len(codes) - 6}"]


def _report_errors(plugins_module) -> None:
    for err in plugins_module.load_errors:
        print(f"error: plugin '{err.name}' failed to load: {err.error}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xalign", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list registered models and their plugins").set_defaults(func=_models)
    sub.add_parser("tasks", help="list registered tasks and their plugins").set_defaults(func=_tasks)
    sub.add_parser("plugins", help="list loaded plugins").set_defaults(func=_plugins)
    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_parser(sub)

    plugins.load_plugins().hook.register_commands(cli=sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("xalign: interrupted (results of finished subsets are kept; rerun to resume)", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 -- only errors written for users are caught, see _reported
        reported = _reported(exc)
        if reported is None:
            raise
        print(f"xalign: error: {reported}", file=sys.stderr)
        return reported.exit_code


def _reported(exc: BaseException) -> ReportedError | None:
    """The error written for users that caused `exc` (mteb or a library may have wrapped it), if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ReportedError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


if __name__ == "__main__":
    sys.exit(main())
