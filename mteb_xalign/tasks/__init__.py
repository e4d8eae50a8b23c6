"""Generic MTEB task kinds, and the bundled tasks built from the data folders."""


def bundled_tasks() -> list[type]:
    """The task classes built from `mteb_xalign/datasets/`."""
    return []
