"""mteb-xalign plugin: LLM embedders (Qwen3-Embedding, e5-mistral, gte-Qwen2 and any local
decoder model) through `transformers`, with last-token pooling and query instructions.

Only light imports here: every `import mteb` loads this module to collect the ModelMetas;
torch and the weights are loaded by `mteb.get_model`.
"""

from mteb_xalign import hookimpl


@hookimpl
def register_models(register):
    from xalign_decoder.config import configured_models
    from xalign_decoder.models import builtin_models

    for meta in builtin_models():
        register(meta)
    # After the built-ins, so a models-file entry may reuse (and replace) one of their names.
    for meta in configured_models():
        register(meta)
