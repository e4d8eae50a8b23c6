"""The LLM-embedder plugin (xalign-decoder) on tiny random Qwen3 models built here, no downloads.

Two tokenizers cover the two families: a Qwen3-Embedding-like one whose post-processor
appends "<|endoftext|>" and pads with that same token, and a Mistral-like one that adds
"<s>" in front, no EOS, and has no pad token at all (e5-mistral's case).
"""

from __future__ import annotations

import json
import os
import textwrap
from types import SimpleNamespace

import mteb
import numpy as np
import pytest
import torch
from mteb.types import PromptType

from mteb_xalign.errors import DataError
from mteb_xalign.tasks.lareqa import LAReQA
from mteb_xalign.tasks.semantic_affinity import SemanticAffinity
from xalign_decoder import config as decoder_config
from xalign_decoder.encoder import LLMEmbedder
from xalign_decoder.instructions import format_query
from xalign_decoder.pooling import last_token, mean
from xalign_decoder.settings import QWEN3_TEMPLATE

SENTENCES = [
    "Instruct : Given a question , retrieve passages that answer the question Query :",
    "the cat sat on the mat and the dog sat on the log",
    "where is the library in paris",
    "who wrote the book about the war",
    "der hund läuft über die straße",
    "what is the capital of france",
]
TEXTS = [
    "the cat sat",
    "where is the library in paris",
    "who wrote the book about the war and the cat sat on the mat",
    "dog",
    "der hund läuft über die straße",
]


def training_text():
    """Our sentences plus the English and German XQuAD texts, so real task texts are not all <unk>."""
    from mteb_xalign.tasks import DATASETS

    lines = list(SENTENCES)
    for lang in ("en", "de"):
        for kind in ("contexts", "questions"):
            path = DATASETS / "xquad" / f"{lang}.{kind}.jsonl"
            lines += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    return lines


def build_tokenizer(kind: str):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(training_text(),
                            trainers.WordLevelTrainer(special_tokens=["<unk>", "<s>", "</s>", "<|endoftext|>"]))
    if kind == "qwen":  # appends its EOS itself and pads with it
        eos = tok.token_to_id("<|endoftext|>")
        tok.post_processor = processors.TemplateProcessing(single="$A <|endoftext|>", special_tokens=[("<|endoftext|>", eos)])
        return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|endoftext|>",
                                       pad_token="<|endoftext|>", padding_side="left")
    bos = tok.token_to_id("<s>")  # mistral: BOS only, no pad token
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   padding_side="right")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """A 32-wide model gains nothing from threads, and on a busy machine their spinning
    costs seconds per batch."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    from transformers import Qwen3Config, Qwen3Model

    root = tmp_path_factory.mktemp("tiny-llm")
    dirs = {}
    for kind in ("qwen", "mistral"):
        tokenizer = build_tokenizer(kind)
        config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=256)
        torch.manual_seed(0)
        folder = root / kind
        Qwen3Model(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        dirs[kind] = folder
    return dirs


def load(model_dirs, kind="qwen", **settings):
    settings.setdefault("max_length", 64)
    return LLMEmbedder(f"test/tiny-{kind}", path=str(model_dirs[kind]), device="cpu", **settings)


def task(name="LAReQA", prompt=None, type_="Retrieval"):
    return SimpleNamespace(name=name, prompt=prompt, type=type_)


def manual_embedding(embedder, ids: list[int]) -> np.ndarray:
    """One text, no padding, default positions: the state at the final position."""
    with torch.inference_mode():
        hidden = embedder.model(input_ids=torch.tensor([ids])).last_hidden_state
    return hidden[0, -1].float().numpy()


# -- pooling and padding ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["qwen", "mistral"])
def test_batch_gives_the_same_vectors_as_one_text_at_a_time(model_dirs, kind):
    embedder = load(model_dirs, kind)
    batched = embedder.embed(TEXTS, prompt_type=PromptType.document)
    alone = np.stack([embedder.embed([t], prompt_type=PromptType.document)[0] for t in TEXTS])
    assert batched.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(batched, alone, rtol=1e-4, atol=1e-5)
    # Different texts really do differ (a constant model would pass the check above).
    assert np.abs(batched[0] - batched[2]).max() > 1e-3


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_right_padding_gives_the_same_vectors_as_left_padding(model_dirs, pooling):
    left = load(model_dirs, padding_side="left", pooling=pooling)
    right = load(model_dirs, padding_side="right", pooling=pooling)
    assert left.model_inputs(TEXTS).attention_mask[0, 0] == 0  # really padded on the left ...
    assert right.model_inputs(TEXTS).attention_mask[0, -1] == 0  # ... and on the right
    np.testing.assert_allclose(left.embed(TEXTS, prompt_type=None), right.embed(TEXTS, prompt_type=None),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind,side", [("qwen", "left"), ("qwen", "right"), ("mistral", "left"), ("mistral", "right")])
def test_pooling_reads_the_last_real_token(model_dirs, kind, side):
    embedder = load(model_dirs, kind, padding_side=side)
    pooled = embedder.embed(TEXTS, prompt_type=PromptType.document)
    tokenizer = embedder.tokenizer
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>" if kind == "qwen" else "</s>")
    for text, vector in zip(TEXTS, pooled):
        ids = tokenizer(text)["input_ids"]
        if kind == "mistral":
            ids = ids + [eos]
        assert ids[-1] == eos
        np.testing.assert_allclose(vector, manual_embedding(embedder, ids), rtol=1e-4, atol=1e-5)


def test_pool_functions_on_hand_made_states():
    hidden = torch.arange(2 * 4 * 1, dtype=torch.float32).reshape(2, 4, 1)  # state = position index
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    assert last_token(hidden, left)[:, 0].tolist() == [3, 7]
    assert last_token(hidden, right)[:, 0].tolist() == [1, 7]
    assert mean(hidden, left)[:, 0].tolist() == [2.5, 5.5]
    assert mean(hidden, right)[:, 0].tolist() == [0.5, 5.5]


# -- EOS and truncation -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["qwen", "mistral"])
def test_every_text_ends_with_exactly_one_eos(model_dirs, kind):
    embedder = load(model_dirs, kind, padding_side="right")
    assert embedder.tokenizer_adds_eos is (kind == "qwen")
    batch = embedder.model_inputs(TEXTS)
    for row, mask in zip(batch.input_ids.tolist(), batch.attention_mask.tolist()):
        real = [t for t, m in zip(row, mask) if m]
        assert real[-1] == embedder.eos_id and real.count(embedder.eos_id) == 1
        if kind == "mistral":
            assert real[0] == embedder.tokenizer.bos_token_id


@pytest.mark.parametrize("kind", ["qwen", "mistral"])
def test_truncation_keeps_the_eos_and_counts_it(model_dirs, kind):
    embedder = load(model_dirs, kind, max_length=6)
    long_text = " ".join(["the cat sat on the mat"] * 5)
    batch = embedder.model_inputs([long_text, "dog"])
    assert batch.input_ids.shape[1] == 6
    row = batch.input_ids[0].tolist()
    assert batch.attention_mask[0].tolist() == [1] * 6 and row[-1] == embedder.eos_id
    words = embedder.tokenizer(long_text, add_special_tokens=False)["input_ids"]
    if kind == "mistral":  # <s> + 4 words + the </s> we append
        assert row[0] == embedder.tokenizer.bos_token_id and row[1:5] == words[:4]
    else:  # 5 words + the tokenizer's own <|endoftext|>
        assert row[:5] == words[:5]
    # The short text is left-padded to the same width and still ends with the EOS.
    assert batch.attention_mask[1].tolist()[:3] == [0, 0, 0] and batch.input_ids[1, -1] == embedder.eos_id


def test_append_eos_off_pools_the_last_word(model_dirs):
    embedder = load(model_dirs, "mistral", append_eos=False)
    real = embedder.model_inputs(["the cat"]).input_ids[0].tolist()
    assert real[-1] != embedder.eos_id


# -- instructions -----------------------------------------------------------------------------


def test_instruction_goes_on_queries_only(model_dirs):
    embedder = load(model_dirs, instruction_template=QWEN3_TEMPLATE)
    meta = task("LAReQA")
    instruction = embedder.instruction_for(meta, PromptType.query)
    assert instruction == LAReQA.default_instruction
    assert embedder.instruction_for(meta, PromptType.document) == ""
    loader = [{"text": TEXTS[:3]}, {"text": TEXTS[3:]}]  # what MTEB's DataLoader yields
    queries = embedder.encode(loader, task_metadata=meta, hf_split="test", hf_subset="x", prompt_type=PromptType.query)
    docs = embedder.encode(loader, task_metadata=meta, hf_split="test", hf_subset="x", prompt_type=PromptType.document)
    assert queries.dtype == np.float32 and np.allclose(np.linalg.norm(queries, axis=1), 1, atol=1e-5)
    plain = embedder.embed(TEXTS, prompt_type=None)
    by_hand = embedder.embed([f"Instruct: {instruction}\nQuery:{t}" for t in TEXTS], prompt_type=None)
    normalise = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(docs, normalise(plain), atol=1e-5)
    np.testing.assert_allclose(queries, normalise(by_hand), atol=1e-5)
    assert not np.allclose(queries, docs, atol=1e-3)


def test_instruction_sources_in_order(model_dirs):
    embedder = load(model_dirs, instructions={"MultiRefCLIR": "configured"})
    q = PromptType.query
    assert embedder.get_instruction(task("MultiRefCLIR", prompt={"query": "from the task"}), q) == "configured"
    assert embedder.get_instruction(task("LAReQA", prompt={"query": "from the task"}), q) == "from the task"
    assert embedder.get_instruction(task("SemanticAffinity"), None) == SemanticAffinity.default_instruction
    # Not one of ours, no prompt: mteb's prompt for the task kind (here an unknown task: the fallback).
    assert embedder.get_instruction(task("SomeOtherTask", type_="STS"), None) == "Retrieve semantically similar text."
    # Symmetric tasks (no role) are instructed, with the query-side prompt of a per-role prompt.
    assert embedder.instruction_for(task("X", prompt={"query": "sym"}), None) == "sym"


def test_cache_context_differs_for_queries_and_tasks(model_dirs):
    embedder = load(model_dirs)
    q, d = PromptType.query, PromptType.document
    lareqa, clir = task("LAReQA"), task("MultiRefCLIR")
    assert embedder.cache_context(lareqa, d) == embedder.cache_context(clir, d) == ""
    assert LAReQA.default_instruction in embedder.cache_context(lareqa, q)
    assert embedder.cache_context(lareqa, q) != embedder.cache_context(clir, q)
    # The same instruction under another template is another context.
    other = load(model_dirs, instruction_template=QWEN3_TEMPLATE)
    assert other.cache_context(lareqa, q) != embedder.cache_context(lareqa, q)


def test_template_keeps_braces_and_places_text():
    assert format_query("Instruct: {instruction}\nQuery: {text}", "find {x}", "a {b}") == "Instruct: find {x}\nQuery: a {b}"
    assert format_query("{instruction}: ", "T", "text") == "T: text"


# -- settings and config files ----------------------------------------------------------------


def test_bad_settings_are_named(model_dirs):
    with pytest.raises(ValueError, match="instruction_template"):
        load(model_dirs, instruction_template="Query: {text}")
    with pytest.raises(ValueError, match="pooling"):
        load(model_dirs, pooling="cls")
    with pytest.raises(TypeError, match="max_len"):
        load(model_dirs, max_len=3)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        load(model_dirs, eos_token="<eot>")


def test_models_file_entries(tmp_path, monkeypatch, model_dirs):
    path = tmp_path / "models.toml"
    (tmp_path / "weights").symlink_to(model_dirs["qwen"])
    path.write_text(textwrap.dedent("""
        [[model]]
        name = "someone/st-model"
        path = "/nowhere"
        prompts = { query = "query: " }

        [[model]]
        name = "test/tiny-llm"
        adapter = "decoder"
        path = "weights"
        max_length = 32
        instructions = { LAReQA = "find it" }
        languages = ["eng-Latn"]
    """))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.setenv("XALIGN_MODELS_FILE", str(path))
    (meta,) = decoder_config.configured_models()  # the sentence-transformers entry is left alone
    assert meta.name == "test/tiny-llm" and meta.languages == ["eng-Latn"] and meta.embed_dim == 32
    # A relative path is relative to the models file.
    assert meta.loader_kwargs["sources"] == [f"path:{(tmp_path / 'weights').resolve()}"]
    assert meta.loader_kwargs["max_length"] == 32 and meta.loader_kwargs["instructions"] == {"LAReQA": "find it"}
    # The revision follows the settings that change vectors (not the per-task instructions).
    path.write_text(path.read_text().replace("max_length = 32", "max_length = 16"))
    revision = decoder_config.configured_models()[0].revision
    assert revision != meta.revision
    path.write_text(path.read_text().replace('"find it"', '"find that"'))
    assert decoder_config.configured_models()[0].revision == revision
    # A later file's entry of the same name replaces the earlier one.
    later = tmp_path / "later.json"
    later.write_text(json.dumps({"model": [{"name": "test/tiny-llm", "adapter": "decoder", "path": "weights",
                                            "pooling": "mean"}]}))
    monkeypatch.setenv("XALIGN_MODELS_FILE", f"{path}{os.pathsep}{later}")
    (meta,) = decoder_config.configured_models()
    assert meta.loader_kwargs["pooling"] == "mean"

    monkeypatch.setenv("XALIGN_MODELS_FILE", str(path))
    path.write_text(path.read_text() + 'pooling = "cls"\n')
    with pytest.raises(DataError, match=r"models\.toml: model #2 \('test/tiny-llm'\).*pooling"):
        decoder_config.configured_models()
    path.write_text(path.read_text().replace('pooling = "cls"', 'polling = "last"'))
    with pytest.raises(DataError, match=r"unknown key 'polling'; did you mean 'pooling'"):
        decoder_config.configured_models()
    later.write_text('{"model": [{"name": "x/y", "adapter": "decoder", "path": "./missing"}]}')
    monkeypatch.setenv("XALIGN_MODELS_FILE", str(later))
    with pytest.raises(DataError, match=r"later\.json: model #1 \('x/y'\).*does not exist"):
        decoder_config.configured_models()
    later.write_text('{"model": [\n  {"name": "x/y",}\n]}')
    with pytest.raises(DataError, match=r"later\.json:2: invalid JSON"):
        decoder_config.configured_models()
    # The adapter's old name (before the plugin was renamed) is refused with the new one, not ignored.
    later.write_text('{"model": [{"name": "x/old", "adapter": "llm", "path": "weights"}]}')
    with pytest.raises(DataError, match=r'later\.json: model #1 \(\'x/old\'\): adapter "llm" is now "decoder"'):
        decoder_config.configured_models()


def test_a_bad_models_file_is_reported_after_the_builtin_models(tmp_path, monkeypatch):
    import xalign_decoder

    bad = tmp_path / "models.toml"
    bad.write_text('[[model]]\nname = "x/y"\nadapter = "decoder"\nhub = "x/y"\nmax_length = "long"\n')
    monkeypatch.setenv("XALIGN_MODELS_FILE", str(bad))
    found = []
    with pytest.raises(DataError, match=r"models\.toml: model #1 \('x/y'\).*max_length"):
        xalign_decoder.register_models(register=found.append)
    assert "xalign/Qwen3-Embedding-0.6B" in {meta.name for meta in found}


def test_builtin_models_are_registered_with_mteb_and_match_its_facts():
    for hub, eos in [("Qwen/Qwen3-Embedding-0.6B", "<|endoftext|>"), ("Qwen/Qwen3-Embedding-8B", "<|endoftext|>"),
                     ("intfloat/e5-mistral-7b-instruct", "</s>"), ("Alibaba-NLP/gte-Qwen2-1.5B-instruct", "<|endoftext|>")]:
        ours, upstream = mteb.get_model_meta("xalign/" + hub.split("/")[1]), mteb.get_model_meta(hub)
        assert ours.adapted_from == hub and ours.revision == upstream.revision
        assert ours.loader_kwargs["sources"] == [f"hf:{hub}"] and ours.loader_kwargs["model_revision"] == upstream.revision
        assert ours.loader_kwargs["eos_token"] == eos and ours.use_instructions
        assert ours.n_parameters == upstream.n_parameters and ours.languages == upstream.languages
        if "gte" not in hub:  # mteb's gte embed_dim is the MLP width; ours is the hidden size
            assert ours.embed_dim == upstream.embed_dim
    assert mteb.get_model_meta("xalign/gte-Qwen2-1.5B-instruct").embed_dim == 1536
    assert mteb.get_model_meta("xalign/Qwen3-Embedding-0.6B").loader_kwargs["instruction_template"] == QWEN3_TEMPLATE


def test_builtin_model_runs_from_a_local_copy(tmp_path, monkeypatch, model_dirs):
    """`xalign/Qwen3-Embedding-0.6B` with its weights in XALIGN_WEIGHTS_DIR (here: the tiny
    model standing in for them) loads offline with Qwen3-Embedding's settings."""
    copy = tmp_path / "Qwen" / "Qwen3-Embedding-0.6B"
    copy.parent.mkdir()
    copy.symlink_to(model_dirs["qwen"])
    monkeypatch.setenv("XALIGN_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("XALIGN_OFFLINE", "1")
    model = mteb.get_model("xalign/Qwen3-Embedding-0.6B", device="cpu")
    assert model.weights.source.startswith("XALIGN_WEIGHTS_DIR") and model.dtype == torch.float32
    assert model.eos_id == model.tokenizer.convert_tokens_to_ids("<|endoftext|>") and model.tokenizer_adds_eos
    query = model.pooled(["where is the library"], instruction="find")[0]
    ids = model.tokenizer("Instruct: find\nQuery:where is the library")["input_ids"]
    np.testing.assert_allclose(query, manual_embedding(model, ids), rtol=1e-4, atol=1e-5)


# -- through mteb -----------------------------------------------------------------------------

TASK, SUBSETS = "MultiRefCLIR-MonoCross", ["monocross_en_q-de"]


def test_models_file_model_runs_multirefclir_through_mteb(tmp_path, monkeypatch, model_dirs, isolated_cache):
    """A models-file entry, registered as the bridge does on `import mteb`, then
    `mteb.get_model` + MultiRefCLIR on two subsets: scores come out, and the cached vectors
    are the adapter's own (queries with the task's instruction, documents without)."""
    from mteb.models.model_implementations import MODEL_REGISTRY

    import xalign_decoder
    from mteb_xalign.cache import EmbeddingCache, make_key
    from mteb_xalign.feeding import model_id
    from mteb_xalign.parallel_data import read_parallel_qa
    from mteb_xalign.tasks import DATASETS

    models_file = tmp_path / "models.toml"
    models_file.write_text(
        f'[[model]]\nname = "test/tiny-llm"\nadapter = "decoder"\npath = "{model_dirs["qwen"]}"\nmax_length = 24\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.setenv("XALIGN_MODELS_FILE", str(models_file))
    registered = []
    xalign_decoder.register_models(register=registered.append)
    for meta in registered:  # what mteb_bridge does with every plugin's metas
        monkeypatch.setitem(MODEL_REGISTRY, meta.name, meta)

    model = mteb.get_model("test/tiny-llm")
    assert isinstance(model, LLMEmbedder) and model.settings.max_length == 24
    task = mteb.get_task(TASK, hf_subsets=SUBSETS)
    result = mteb.evaluate(model, task, cache=None, show_progress_bar=False,
                           encode_kwargs={"batch_size": 64}).task_results[0]
    scores = {s["hf_subset"]: s for s in result.scores["test"]}
    assert set(scores) == set(SUBSETS)
    for s in scores.values():
        assert 0 < s["mrr"] <= 1 and s["max_at_r"] >= 1

    data = read_parallel_qa(DATASETS / "xquad")
    question, paragraph = data.questions["de"][0].text, next(iter(data.contexts["en"].values()))
    instruction = model.instruction_for(task.metadata, PromptType.query)
    prompt = task.metadata.prompt  # the task's own prompt wins over our default
    assert instruction == ((prompt or {}).get("query") or mteb.get_task(TASK).default_instruction)
    mid = model_id(model)
    keys = [make_key(mid, "query", model.cache_context(task.metadata, PromptType.query), question),
            make_key(mid, "document", "", paragraph)]
    cached = EmbeddingCache(isolated_cache).get_many(keys)  # a fresh reader: what is on disk
    assert len(cached) == 2
    direct = np.concatenate([model.pooled([question], instruction=instruction),
                             model.embed([paragraph], prompt_type=PromptType.document)])
    direct /= np.linalg.norm(direct, axis=1, keepdims=True)
    np.testing.assert_allclose(np.stack([cached[k] for k in keys]), direct, atol=1e-5)


def test_our_tasks_instruction_is_read_from_the_task_class(monkeypatch):
    """Declared on the task (task_rules.TaskRules.default_instruction), inherited by a --data variant;
    a task that declares none (mteb's own) gets "" here and falls through to mteb's generic prompts."""
    from mteb_xalign import mteb_compat
    from mteb_xalign.tasks import DATASETS
    from mteb_xalign.tasks.multiref_clir import MultiRefCLIR
    from xalign_decoder.instructions import declared_instruction

    assert declared_instruction("LAReQA") == LAReQA.default_instruction != ""
    variant = MultiRefCLIR.from_folder(DATASETS / "xquad", "MyXQuADForDecoder")
    module = mteb_compat._tasks_module()
    monkeypatch.setattr(module, "TASK_LIST", module.TASK_LIST)  # unregistered afterwards
    monkeypatch.setitem(module._TASKS_REGISTRY, "MyXQuADForDecoder", variant)
    mteb_compat.add_task(variant)
    assert declared_instruction("MyXQuADForDecoder") == MultiRefCLIR.default_instruction != ""
    assert declared_instruction("STS12") == "" and declared_instruction("NoSuchTask") == ""
