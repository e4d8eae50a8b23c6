"""The hub LLM embedders this plugin knows, as mteb ModelMetas.

Named `xalign/<model>` rather than under the hub names that mteb already registers
(`Qwen/Qwen3-Embedding-0.6B` ...): mteb's own entries (sentence-transformers path) stay
usable to cross-check this direct-transformers implementation, result files say which
implementation produced them, and no other plugin's override of a hub name is taken over.
`adapted_from` and `reference` point at the hub model; the revision is the same pinned
commit mteb uses. Weights are looked for in XALIGN_WEIGHTS_DIR and the HF cache first
(mteb_xalign.weights), so a copy made elsewhere runs offline. Facts (sizes, languages, training data, citations) are mteb's own,
imported from its model files so they cannot drift apart; where mteb's value is wrong it
is corrected here and the reason given.
"""

from __future__ import annotations

from typing import Any

from xalign_decoder.settings import E5_TEMPLATE, QWEN3_TEMPLATE, LLMSettings

PREFIX = "xalign/"


def _meta(settings: LLMSettings, **facts: Any):
    from mteb.models.model_meta import ModelMeta

    from xalign_decoder.loader import load_decoder_embedder

    (hub,) = settings.hub_ids
    return ModelMeta(
        loader=load_decoder_embedder,
        loader_kwargs=settings.as_kwargs(),
        name=PREFIX + hub.split("/", 1)[1],
        revision=settings.model_revision,
        adapted_from=hub,
        reference=f"https://huggingface.co/{hub}",
        open_weights=True,
        similarity_fn_name="cosine",
        use_instructions=True,
        framework=["PyTorch", "Transformers", "safetensors"],
        model_type=["dense"],
        public_training_code=None,
        public_training_data=None,
        **facts,
    )


def builtin_models() -> list:
    """ModelMetas for the known hub LLM embedders (weights load only in `mteb.get_model`)."""
    from mteb_xalign.mteb_compat import known_meta

    upstream = {name: known_meta(name) for name in (
        "Qwen/Qwen3-Embedding-0.6B", "Qwen/Qwen3-Embedding-4B", "Qwen/Qwen3-Embedding-8B",
        "intfloat/e5-mistral-7b-instruct", "Alibaba-NLP/gte-Qwen2-1.5B-instruct")}
    qwen3_facts = upstream["Qwen/Qwen3-Embedding-0.6B"]  # the family's languages, data, citation
    qwen3 = dict(
        languages=qwen3_facts.languages,
        release_date="2025-06-05",
        license="apache-2.0",
        max_tokens=32768,
        training_datasets=set(qwen3_facts.training_datasets),
        citation=qwen3_facts.citation,
        output_dtypes="bfloat16",
    )
    # Qwen3-Embedding pools "<|endoftext|>" (its tokenizer appends it; the chat eos is
    # "<|im_end|>"); its README embeds with max_length=8192 and left padding.
    qwen3_settings = dict(instruction_template=QWEN3_TEMPLATE, eos_token="<|endoftext|>", max_length=8192)

    def sizes(hub: str, **override: Any) -> dict[str, Any]:
        m = upstream[hub]
        facts = dict(n_parameters=m.n_parameters, n_embedding_parameters=m.n_embedding_parameters,
                     memory_usage_mb=m.memory_usage_mb, embed_dim=m.embed_dim)
        facts.update(override)
        return facts

    metas = [
        _meta(LLMSettings(sources=(f"hf:{hub}",), model_revision=upstream[hub].revision, **qwen3_settings),
              **sizes(hub), **qwen3)
        for hub in ("Qwen/Qwen3-Embedding-0.6B", "Qwen/Qwen3-Embedding-4B", "Qwen/Qwen3-Embedding-8B")
    ]

    e5 = upstream["intfloat/e5-mistral-7b-instruct"]
    # e5-mistral's README: Mistral tokenizer (adds <s>, not </s>), "</s>" appended by hand,
    # max_length=4096; no pad token (we pad with </s>, masked out).
    metas.append(_meta(
        LLMSettings(sources=(f"hf:{e5.name}",), model_revision=e5.revision, instruction_template=E5_TEMPLATE,
                    eos_token="</s>", max_length=4096),
        **sizes(e5.name), languages=list(e5.languages), release_date=e5.release_date, license=e5.license,
        max_tokens=e5.max_tokens, training_datasets=set(e5.training_datasets or ()), citation=e5.citation,
        output_dtypes="float16",
    ))

    gte = upstream["Alibaba-NLP/gte-Qwen2-1.5B-instruct"]
    # gte-Qwen2-1.5B is causal (unlike the 7B, trained with bidirectional attention), so the
    # stock Qwen2Model reproduces it without remote code. mteb lists embed_dim=8960, the MLP
    # width; the embedding is the hidden state, 1536 wide (config.json: hidden_size).
    metas.append(_meta(
        LLMSettings(sources=(f"hf:{gte.name}",), model_revision=gte.revision, instruction_template=E5_TEMPLATE,
                    eos_token="<|endoftext|>", max_length=8192),
        **sizes(gte.name, embed_dim=1536), languages=list(gte.languages), release_date=gte.release_date,
        license=gte.license, max_tokens=gte.max_tokens, training_datasets=None, citation=gte.citation,
        output_dtypes="float16",
    ))
    return metas
