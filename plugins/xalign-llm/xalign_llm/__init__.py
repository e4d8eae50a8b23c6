"""mteb-xalign plugin: every embedding model installed in Simon Willison's `llm` tool
(`llm embed-models`: its own OpenAI models and those of llm-* plugins such as
llm-sentence-transformers or llm-clip), as the xalign model `llm/MODEL_ID`.

Registering imports `llm` and loads its plugins (to learn their model ids), nothing more:
no model is built and no request is sent until `mteb.get_model` loads one.
"""

from mteb_xalign import hookimpl


@hookimpl
def register_models(register):
    from xalign_llm.models import llm_metas

    for meta in llm_metas():
        register(meta)
