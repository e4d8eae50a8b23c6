"""Command-line conventions shared by every `xalign` command (plugins' included).

A list option takes its items separated by spaces, commas or both, and may be repeated:
`-l ar de zh`, `-l ar,de,zh`, `-l ar -l de,zh` all give ["ar", "de", "zh"]. A default is
replaced, never extended, by what the user gives.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable


def split_items(values: str | Iterable[str]) -> list[str]:
    """Items of a list value: commas and spaces both separate; empty items are dropped."""
    if isinstance(values, str):
        values = [values]
    return [item for value in values for item in value.replace(",", " ").split()]


class ListAction(argparse.Action):
    """`nargs="+"` (or "*") whose values are split on commas and collected over repeats."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = split_items(values or [])
        if not items and self.const is not None:  # `--evaluate` alone: its const list
            items = split_items(self.const)
        current = getattr(namespace, self.dest, None)
        if current is None or current is self.default:  # a default is replaced, not extended
            current = []
        setattr(namespace, self.dest, [*current, *items])


def add_list_option(parser: argparse.ArgumentParser, *flags: str, default=None, nargs: str = "+", const=None,
                    **kwargs) -> argparse.Action:
    """A list option (see the module doc); `default` may be a list or a "a,b" string."""
    if isinstance(default, str):
        default = split_items(default)
    if const is not None:
        nargs = "*"
    return parser.add_argument(*flags, action=ListAction, nargs=nargs, default=default, const=const, **kwargs)
