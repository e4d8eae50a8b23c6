"""mteb-xalign plugin: OpenAI-compatible embedding APIs as mteb models.

Registers OpenAI's text-embedding models under mteb's own names, plus every entry with
`adapter = "openai"` in the models files all plugins share (XALIGN_MODELS_FILE).
Importing this module is cheap: no mteb model code and no HTTP until a model is loaded.
"""

from mteb_xalign import hookimpl


@hookimpl
def register_models(register):
    from xalign_openai.models import configured_metas, openai_metas

    for meta in openai_metas():
        register(meta)
    # After the built-ins: a broken models file is reported without hiding OpenAI's models.
    for meta in configured_metas():
        register(meta)
