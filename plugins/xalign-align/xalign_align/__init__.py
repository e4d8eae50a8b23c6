"""mteb-xalign plugin: alignment repair.

`xalign align fit`    training-free maps (least squares, Procrustes, the same map by gradient
                      descent, language-mean centering, language-subspace removal) for any model
`xalign align train`  fine-tuning with the paper's L_JSD + L_NCE objective (sentence-transformers)
`xalign align report` the before/after table and picture from MTEB result folders

An aligned model is a model: its artifact folder is registered by name and by path (see
`xalign_align.registry`). Only light imports here: every `import mteb` loads this module.
"""

from __future__ import annotations

import sys

from mteb_xalign import hookimpl


#: name -> why a listed aligned model could not be registered (its folder holds a broken artifact).
_skipped: dict[str, str] = {}


@hookimpl
def register_models(register):
    from xalign_align import registry

    found, _notes, errors = registry.usable_entries()  # entries whose folder is gone: told by `xalign models`
    for error in errors:
        print(f"xalign-align: {error}", file=sys.stderr)
    typed_folders = {registry.name_for_path(typed): typed for typed in registry.command_line_folders()}
    for name, folder in {**typed_folders, **found}.items():
        try:
            register(registry.meta_for(name, folder))
        except Exception as exc:  # noqa: BLE001 -- one bad artifact must not hide the others
            if name in typed_folders and name not in found:  # typed on this command line: say it now
                print(f"xalign-align: aligned model {name!r} ({folder}) skipped: {exc}", file=sys.stderr)
            else:
                _skipped[name] = f"aligned model {name!r} ({folder}) skipped: {exc}; {registry.how_to_remove(name)}"


@hookimpl
def register_model_notes(register):
    from xalign_align import registry

    _found, notes, _errors = registry.usable_entries()
    for name, text in {**_skipped, **notes}.items():
        register(name, text)


@hookimpl
def register_commands(cli):
    from xalign_align.cli import add_parsers

    add_parsers(cli)
