"""`variant_of`: the registered task that is a given one with other option values (`xalign run`'s
--pool/--pivot on a bundled task, and what a task class's `from_folder` options mean)."""

from __future__ import annotations

from mteb_xalign import plugins


def variant_of(task_cls: type, **options) -> type | None:
    """The registered task that is `task_cls` with other option values (e.g. pool="per-question"):
    the same kind and data, every option as given, every other declared attribute equal; None if none."""
    kind = task_cls.__mro__[1]
    same = ("data_folder", "data_path", "sentences_folder", "questions_folder", "scenarios", "all_pairs",
            "languages", "pivot", "pool")
    for _, other in plugins.get_tasks():
        if other.__mro__[1] is not kind or other is task_cls:
            continue
        if all(getattr(other, key, None) == value for key, value in options.items()) and all(
                getattr(other, key, None) == getattr(task_cls, key, None) for key in same if key not in options):
            return other
    return None
