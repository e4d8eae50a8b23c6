"""mteb-xalign plugin: alignment repair.

`xalign align fit`    training-free maps (least squares, Procrustes, the same map by gradient
                      descent, language-mean centering, language-subspace removal) for any model
`xalign align train`  fine-tuning with the paper's L_JSD + L_NCE objective (sentence-transformers)
`xalign align report` the before/after table and picture from MTEB result folders

An aligned model is a model: it is registered by its name (the index and models files), and
`-m DIR` resolves its folder to that same name (`model_from_folder`; see `xalign_align.registry`).
Only light imports here: every `import mteb` loads this module.
"""

from __future__ import annotations

import sys

from mteb_xalign import hookimpl


@hookimpl
def register_models(register):
    from xalign_align import registry

    found, errors = registry.listed()
    for error in errors:
        print(f"xalign-align: {error}", file=sys.stderr)
    for name, folder in found.items():
        try:
            register(registry.meta_for(name, folder))
        except Exception as exc:  # noqa: BLE001 -- one bad artifact must not hide the others
            print(f"xalign-align: aligned model {name!r} ({folder}) skipped: {exc}", file=sys.stderr)


@hookimpl
def model_from_folder(path):
    """An aligned-model folder is the model its card names (`xalign/use-multilingual-v3+center-tatoeba`)."""
    from xalign_align import artifact, registry

    if not artifact.is_artifact(path):
        return None
    return registry.meta_for(artifact.load(path, verify_weights=False).name, path)


@hookimpl
def register_commands(cli):
    from xalign_align.cli import add_parsers

    add_parsers(cli)
