"""The OpenAI-compatible API adapter (plugins/xalign-openai) against a local fake server.

Run from the repository root: `pytest plugins/xalign-openai/tests` (the end-to-end test
borrows the core's test doubles from tests/fakes.py).

No test sleeps for backoff: the client gets a recording `sleep`, a seeded RNG and a fixed
clock. The only real waits are the timeout test's fraction of a second and the start-up
of the subprocesses (a killed client, and mteb end to end).
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import os
import random
import re
import subprocess
import sys
import textwrap
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from fake_embeddings_server import FakeEmbeddingsServer, fake_vector
from mteb_xalign.cache import EmbeddingCache
from mteb_xalign.errors import DataError
from xalign_openai.client import EmbeddingAPIError, InvalidResponse, MalformedResponse, parse_response
from xalign_openai.config import ServiceConfig, read_models_file
from xalign_openai.encoder import OpenAIEncoder
from xalign_openai.tokens import TokenCounter, plan_batches

KEY = "sk-test-SECRET-7f3a9c1e5b"
KEY_ENV = "XALIGN_TEST_API_KEY"
NOW = 1_800_000_000.0
TESTS = Path(__file__).resolve().parent
CORE_TESTS = Path(__file__).resolve().parents[3] / "tests"  # tests/fakes.py


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Each test its own embedding cache file (as the core's tests/conftest.py does)."""
    monkeypatch.setenv("XALIGN_CACHE", str(tmp_path / "embeddings.sqlite3"))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("XALIGN_OPENAI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def server():
    with FakeEmbeddingsServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make_encoder(server, sleeps, tmp_path):
    def make(cache_path=None, **settings):
        settings = {"base_url": server.base_url, "model": "fake-embed", "api_key_env": KEY_ENV,
                    "embed_dim": 16, "timeout": 2.0, "max_attempts": 4, **settings}
        if settings.get("dimensions"):
            settings["embed_dim"] = settings["dimensions"]
        cache = EmbeddingCache(cache_path or tmp_path / "api-cache.sqlite3")
        return OpenAIEncoder("fake/embed", cache=cache, sleep=sleeps.append, clock=lambda: NOW,
                             rng=random.Random(0), **settings)

    return make


def expected(texts, model="fake-embed", dim=16):
    return np.stack([fake_vector(model, t, dim) for t in texts])


# -- answers ------------------------------------------------------------------------------
def test_rows_match_the_server_in_input_order_each_text_sent_once(make_encoder, server):
    texts = ["hello", "world", "hello", "  ", "مرحبا بالعالم", "world"]
    out = make_encoder().embed(texts, prompt_type=None)
    assert out.shape == (6, 16) and out.dtype == np.float32
    nonblank = [0, 1, 2, 4, 5]
    np.testing.assert_allclose(out[nonblank], expected([texts[i] for i in nonblank]), rtol=1e-6)
    assert not out[3].any()  # a blank text is a zero vector, never sent (the API rejects "")
    assert server.batches() == [["hello", "world", "مرحبا بالعالم"]]
    assert make_encoder().embed([], prompt_type=None).shape == (0, 16)


def test_out_of_order_indices_are_sorted_back(make_encoder, server):
    server.inject("shuffle")
    texts = ["a", "b", "c", "d"]
    np.testing.assert_allclose(make_encoder().embed(texts, prompt_type=None), expected(texts), rtol=1e-6)


def test_prompts_prefix_by_role_and_key_on_what_is_sent(make_encoder, server):
    from mteb.types import PromptType

    enc = make_encoder(prompts={"query": "query: ", "document": "passage: "})
    q = enc.embed(["cat"], prompt_type=PromptType.query)
    d = enc.embed(["cat"], prompt_type=PromptType.document)
    np.testing.assert_allclose(q[0], fake_vector("fake-embed", "query: cat", 16), rtol=1e-6)
    np.testing.assert_allclose(d[0], fake_vector("fake-embed", "passage: cat", 16), rtol=1e-6)
    assert server.batches() == [["query: cat"], ["passage: cat"]]


def test_encode_through_mteb_dataloader_is_normalised(make_encoder, server):
    from datasets import Dataset
    from torch.utils.data import DataLoader

    texts = [f"text {i}" for i in range(10)]
    loader = DataLoader(Dataset.from_dict({"text": texts}), batch_size=3)
    out = make_encoder().encode(loader, task_metadata=None, hf_split="test", hf_subset="default")
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, rtol=1e-5)
    # One request for all of mteb's batches: requests follow the API's limits, not the loader's.
    assert len(server.batches()) == 1 and len(server.batches()[0]) == 10


def test_dimensions_parameter_sent_only_when_configured(make_encoder, server):
    out = make_encoder(dimensions=8).embed(["x"], prompt_type=None)
    assert out.shape == (1, 8)
    make_encoder().embed(["y"], prompt_type=None)
    assert [r["dimensions"] for r in server.requests] == [8, None]


# -- batching -----------------------------------------------------------------------------
def test_batches_split_by_count(make_encoder, server):
    texts = [f"t{i}" for i in range(7)]
    make_encoder(max_batch_size=3).embed(texts, prompt_type=None)
    assert server.batches() == [texts[0:3], texts[3:6], texts[6:7]]


def test_batches_split_by_token_budget(make_encoder, server):
    ten = "a" * 30  # 30 UTF-8 bytes = 10 estimated tokens at 3 bytes a token
    ten_accented = "é" * 15  # 15 characters but 30 bytes: also 10 tokens
    big = "b" * 90  # 30 tokens: above the budget alone, so it gets a request of its own
    texts = [ten + "1", ten_accented, ten + "2", big, ten + "3", ten + "4", ten + "5"]
    counter = TokenCounter(3.0)
    assert [counter.count(t) for t in texts] == [11, 10, 11, 30, 11, 11, 11]
    make_encoder(max_batch_tokens=25).embed(texts, prompt_type=None)
    assert server.batches() == [texts[0:2], [texts[2]], [texts[3]], texts[4:6], [texts[6]]]


def test_plan_batches_respects_both_limits():
    rng = random.Random(1)
    for _ in range(200):
        counts = [rng.randint(1, 40) for _ in range(rng.randint(0, 60))]
        size, budget = rng.randint(1, 8), rng.randint(10, 100)
        batches = plan_batches(counts, max_batch_size=size, max_batch_tokens=budget)
        assert [i for b in batches for i in b] == list(range(len(counts)))
        for b in batches:
            assert 1 <= len(b) <= size
            assert len(b) == 1 or sum(counts[i] for i in b) <= budget
        for left, right in zip(batches, batches[1:]):  # greedy: the next input did not fit
            assert len(left) == size or sum(counts[i] for i in left) + counts[right[0]] > budget


def test_long_inputs_are_truncated_at_a_character_boundary(make_encoder, server):
    make_encoder(max_tokens=4).embed(["abcdefghijklmnopqrstuvwxyz", "ééééééé", "short"], prompt_type=None)
    assert server.batches() == [["abcdefghijkl", "éééééé", "short"]]  # 12 bytes = 4 tokens


# -- retries ------------------------------------------------------------------------------
def test_5xx_retried_with_exponential_backoff_and_full_jitter(make_encoder, server, sleeps):
    for code in (500, 503, 502):
        server.inject("status", code=code)
    out = make_encoder(backoff_base=1.0, max_attempts=4).embed(["q"], prompt_type=None)
    np.testing.assert_allclose(out, expected(["q"]), rtol=1e-6)
    rng = random.Random(0)  # the encoder's RNG: full jitter is U(0, base * 2**retry)
    assert sleeps == [rng.uniform(0, 1), rng.uniform(0, 2), rng.uniform(0, 4)]
    assert len(server.requests) == 4


def test_backoff_is_capped(make_encoder, server, sleeps):
    for _ in range(7):
        server.inject("status", code=500)
    make_encoder(backoff_base=1.0, backoff_max=3.0, max_attempts=8).embed(["q"], prompt_type=None)
    assert len(sleeps) == 7 and max(sleeps) <= 3.0
    assert max(sleeps[3:]) > 1.0  # the later waits draw from U(0, 3), not U(0, 1)


def test_retry_after_seconds_and_ms_are_honoured(make_encoder, server, sleeps):
    server.inject("status", code=429, headers={"Retry-After": "7"})
    server.inject("status", code=503, headers={"retry-after-ms": "1500"})
    make_encoder().embed(["q"], prompt_type=None)
    assert sleeps == [7.0, 1.5]


def test_retry_after_http_date_is_honoured(make_encoder, server, sleeps):
    server.inject("status", code=429, headers={"Retry-After": email.utils.formatdate(NOW + 30, usegmt=True)})
    make_encoder(max_retry_after=120.0).embed(["q"], prompt_type=None)
    assert sleeps == [30.0]


@pytest.mark.parametrize("header", [{"Retry-After": "86400"}, {"retry-after-ms": "3600000"},
                                    {"Retry-After": email.utils.formatdate(NOW + 7200, usegmt=True)}])
def test_retry_after_above_the_ceiling_stops_with_a_message_instead_of_waiting(make_encoder, server, sleeps, header):
    """A spent quota (wait an hour, a day) is neither obeyed blindly (a silent hang) nor cut short
    (retrying early disobeys the server and burns the attempts): the run stops and says why."""
    server.inject("status", code=429, headers=header)
    with pytest.raises(EmbeddingAPIError, match=r"answered HTTP 429 asking to wait \d+ s \(Retry-After\), more than "
                                                r"max_retry_after = 120 s: stopped instead of waiting") as err:
        make_encoder(max_retry_after=120.0).embed(["q"], prompt_type=None)
    assert sleeps == [] and len(server.requests) == 1 and err.value.status == 429


def test_retry_after_ceiling_from_the_environment(make_encoder, server, sleeps, monkeypatch):
    monkeypatch.setenv("XALIGN_OPENAI_MAX_RETRY_AFTER", "5")
    server.inject("status", code=429, headers={"Retry-After": "7"})
    with pytest.raises(EmbeddingAPIError, match="more than max_retry_after = 5 s"):
        make_encoder().embed(["q"], prompt_type=None)


def test_a_trickling_server_is_cut_at_the_request_deadline(make_encoder, server, sleeps):
    """Every byte arrives well within the socket timeout, so only an overall deadline ends the request."""
    server.inject("trickle", seconds=0.05)
    start = time.monotonic()
    with pytest.raises(EmbeddingAPIError, match=r"no complete answer within the request deadline of 0\.6 s"):
        make_encoder(timeout=3.0, request_deadline=0.6, max_attempts=1).embed(["slow"], prompt_type=None)
    assert time.monotonic() - start < 2.5  # the body alone would take ~20 s at this pace


def test_a_trickled_request_is_retried_and_the_next_answer_used(make_encoder, server, sleeps):
    server.inject("trickle", seconds=0.05)
    out = make_encoder(timeout=3.0, request_deadline=0.6).embed(["slow"], prompt_type=None)
    np.testing.assert_allclose(out, expected(["slow"]), rtol=1e-6)
    assert len(sleeps) == 1 and len(server.requests) == 2


def test_timeout_is_retried(make_encoder, server, sleeps):
    server.inject("timeout", seconds=0.6)
    out = make_encoder(timeout=0.2).embed(["slow"], prompt_type=None)
    np.testing.assert_allclose(out, expected(["slow"]), rtol=1e-6)
    assert len(sleeps) == 1 and len(server.requests) == 2


def test_connection_errors_are_retried_then_reported(make_encoder, sleeps):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EmbeddingAPIError, match=r"failed after 3 attempt\(s\); last error: connection error") as err:
        make_encoder(base_url=f"http://127.0.0.1:{port}/v1", max_attempts=3).embed(["q"], prompt_type=None)
    assert err.value.attempts == 3 and len(sleeps) == 2


def test_final_error_names_status_and_body(make_encoder, server, sleeps):
    for _ in range(3):
        server.inject("status", code=503, body="engine overloaded, try later")
    with pytest.raises(EmbeddingAPIError) as err:
        make_encoder(max_attempts=3).embed(["q"], prompt_type=None)
    message = str(err.value)
    assert "failed after 3 attempt(s)" in message and "HTTP 503" in message
    assert "engine overloaded, try later" in message and server.base_url in message
    assert err.value.status == 503 and len(sleeps) == 2


def test_client_errors_are_not_retried(make_encoder, server, sleeps):
    with pytest.raises(EmbeddingAPIError, match=r"not retried\): HTTP 400 .*does not support 'dimensions'"):
        make_encoder(model="fake-legacy", dimensions=6).embed(["q"], prompt_type=None)
    assert sleeps == [] and len(server.requests) == 1


# -- response validation -----------------------------------------------------------------
def test_malformed_json_is_retried_a_bounded_number_of_times(make_encoder, server, sleeps):
    server.inject("malformed")
    server.inject("malformed")
    out = make_encoder(max_malformed_retries=2, max_attempts=6).embed(["m"], prompt_type=None)
    np.testing.assert_allclose(out, expected(["m"]), rtol=1e-6)
    for _ in range(3):
        server.inject("malformed")
    with pytest.raises(EmbeddingAPIError, match=r"failed after 3 attempt\(s\); last error: HTTP 200 with a malformed body"):
        make_encoder(max_malformed_retries=2, max_attempts=6).embed(["n"], prompt_type=None)


@pytest.mark.parametrize("fault, message", [
    ("wrong_dim", "dimension 15, expected 16"),
    ("wrong_count", "returned 1 embeddings for 2 inputs"),
    ("nan", r"embeddings of inputs \[0\] contain NaN"),
    ("overflow", r"embeddings of inputs \[0\] contain NaN or infinite values"),  # 1e39: inf as float32
    ("missing_data", "no 'data' list"),
])
def test_wrong_answers_fail_clearly_without_retrying(make_encoder, server, sleeps, fault, message):
    server.inject(fault)
    with pytest.raises(EmbeddingAPIError, match=r"answered HTTP 200 but .*" + message):
        make_encoder().embed(["u", "v"], prompt_type=None)
    assert sleeps == [] and len(server.requests) == 1


def test_parse_response_edge_cases():
    def body(items):
        return json.dumps({"data": items}).encode()

    vec = np.array([0.5, -1.0], dtype="<f4")
    b64 = base64.b64encode(vec.tobytes()).decode()
    got = parse_response(body([{"index": 1, "embedding": [3, 4]}, {"index": 0, "embedding": b64}]), 2, 2)
    np.testing.assert_array_equal(got.vectors, [[0.5, -1.0], [3, 4]])
    with pytest.raises(InvalidResponse, match="not a permutation"):
        parse_response(body([{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}]), 2, None)
    with pytest.raises(InvalidResponse, match="not a list of numbers"):
        parse_response(body([{"index": 0, "embedding": ["1.0"]}]), 1, None)
    with pytest.raises(InvalidResponse, match="different dimensions"):
        parse_response(body([{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]), 2, None)
    with pytest.raises(MalformedResponse):
        parse_response(b"<html>502 Bad Gateway</html>", 1, None)


def test_learned_dimension_is_enforced_when_not_configured(make_encoder, server):
    enc = make_encoder(embed_dim=None)
    assert enc.embed(["a"], prompt_type=None).shape == (1, 16)
    server.inject("wrong_dim")
    with pytest.raises(EmbeddingAPIError, match="dimension 15, expected 16"):
        enc.embed(["b"], prompt_type=None)


# -- the key ------------------------------------------------------------------------------
def test_api_key_never_leaks(make_encoder, server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    cache_path = tmp_path / "leak-check.sqlite3"
    enc = make_encoder(cache_path)
    server.inject("status", code=429, body=f"slow down, {KEY}")  # a server echoing the key
    server.inject("malformed")
    enc.embed(["one", "two"], prompt_type=None)
    texts_in_errors = []
    server.inject("status", code=500, body=f"Bearer {KEY}")
    server.inject("status", code=500, body=f"key={KEY}")
    with pytest.raises(EmbeddingAPIError) as err:
        make_encoder(cache_path, max_attempts=2).embed(["three"], prompt_type=None)
    texts_in_errors.append(str(err.value))
    # A key the server refuses: it answers 401 quoting the whole Authorization header.
    server.api_key = "sk-the-right-one"
    with pytest.raises(EmbeddingAPIError, match="HTTP 401") as err:
        make_encoder(cache_path).embed(["four"], prompt_type=None)
    texts_in_errors.append(str(err.value))
    assert "[REDACTED]" in texts_in_errors[-1]
    enc.cache.close()

    for name, text in [("logs", caplog.text), ("repr", repr(enc) + repr(enc.client)),
                       ("loader kwargs", json.dumps(enc.config.to_kwargs())), *[("error", t) for t in texts_in_errors]]:
        assert KEY not in text, f"the API key leaked into {name}"
        assert KEY[-10:] not in text, f"part of the API key leaked into {name}"
    for path in tmp_path.glob("leak-check.sqlite3*"):
        assert KEY.encode() not in path.read_bytes(), f"the API key leaked into {path.name}"


def test_a_key_echoed_back_base64_encoded_is_redacted(make_encoder, server, caplog):
    """A gateway quoting the Authorization header base64-encoded, alone or inside a longer blob."""
    caplog.set_level(logging.DEBUG)
    server.inject("echo_auth_base64", code=500)
    server.inject("echo_auth_base64", code=500)
    with pytest.raises(EmbeddingAPIError) as err:
        make_encoder(max_attempts=2).embed(["q"], prompt_type=None)
    assert "debug=" in str(err.value) and "[REDACTED]" in str(err.value)
    for offset in range(3):  # the key at each byte alignment inside someone else's base64
        blob = base64.b64encode(b"x" * offset + f"token={KEY};".encode()).decode()
        server.inject("status", code=400, body=f"bad request {blob}")
        with pytest.raises(EmbeddingAPIError) as other:
            make_encoder().embed(["q"], prompt_type=None)
        texts = [str(other.value)]
        for text in texts + [str(err.value), caplog.text]:
            assert base64.b64encode(f"Bearer {KEY}".encode()).decode()[4:20] not in text
            assert base64.b64encode(b"x" * offset + f"token={KEY};".encode()).decode()[12:28] not in text


def _key_encodings(key: str) -> dict[str, str]:
    raw = key.encode()
    b64, b64url = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    return {
        "plain": key,
        "quote": urllib.parse.quote(key),
        "quote safe=''": urllib.parse.quote(key, safe=""),
        "quote lower-case escapes": re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), urllib.parse.quote(key, safe="")),
        "quote_plus": urllib.parse.quote_plus(key),
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "base64": b64,
        "base64 unpadded": b64.rstrip("="),
        "base64 urlsafe": b64url,
        "base64 urlsafe unpadded": b64url.rstrip("="),
        "JSON": json.dumps(key)[1:-1],
        "JSON non-ASCII kept": json.dumps(key, ensure_ascii=False)[1:-1],
        "JSON slash escaped": json.dumps(key)[1:-1].replace("/", "\\/"),
    }


#: A key with characters every encoding changes (+ / = ? & % and a non-ASCII letter).
ODD_KEY = "sk-Ab+/=?&%~:SECRET-0042\u00e9x"


@pytest.mark.parametrize("encoding", list(_key_encodings(ODD_KEY)))
def test_a_key_echoed_back_in_any_encoding_is_redacted(make_encoder, server, monkeypatch, caplog, encoding):
    """A server echoing the key URL-encoded, in hex, base64 or JSON-escaped, alone or as the
    whole Authorization header: nothing of it reaches the message or the logs."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(KEY_ENV, ODD_KEY)
    server.api_key = ODD_KEY
    echoed = _key_encodings(ODD_KEY)[encoding]
    header = _key_encodings(f"Bearer {ODD_KEY}")[encoding]
    server.inject("status", code=500, raw=True, body=f"rejected key={echoed}")
    server.inject("status", code=400, raw=True, body=f"rejected header={header}.")
    with pytest.raises(EmbeddingAPIError) as err:
        make_encoder(max_attempts=2).embed(["q"], prompt_type=None)
    text = str(err.value) + caplog.text
    assert "key=[REDACTED]" in text and "header=" in text and "\n" not in str(err.value)
    for shown in (echoed, header):
        core = shown[len(shown) // 4: -max(1, len(shown) // 4)]  # no long piece of it either
        assert core not in text, f"the key leaked {encoding}-encoded"


def test_a_redirect_is_not_followed_so_the_key_never_reaches_another_origin(make_encoder, server, sleeps):
    """A 30x from the configured URL (another port = another origin, or the same origin) stops
    the request with one line naming the new address; the key goes nowhere else."""
    with FakeEmbeddingsServer(api_key=None) as other:
        for code in (301, 302, 303, 307, 308):
            server.inject("redirect", code=code, location=f"{other.base_url}/embeddings")
            with pytest.raises(EmbeddingAPIError) as err:
                make_encoder().embed([f"q{code}"], prompt_type=None)
            message = str(err.value)
            assert f"HTTP {code}" in message and f"{other.base_url}/embeddings" in message, message
            assert "not followed" in message and "base_url" in message and "\n" not in message
            assert KEY not in message
        assert other.authorizations == []  # nothing at all reached the other origin
    # The same origin, another path: not followed either (the configured base_url is wrong).
    server.inject("redirect", code=308, location="/v2/embeddings")
    with pytest.raises(EmbeddingAPIError, match=r"HTTP 308 .*/v2/embeddings.* not followed"):
        make_encoder().embed(["same origin"], prompt_type=None)
    assert [path for _, path, _ in server.authorizations] == ["/v1/embeddings"] * 6
    assert sleeps == []  # a redirect is not retried


@pytest.mark.parametrize("cache_on", [True, False])
def test_the_quota_message_says_whether_vectors_were_kept(make_encoder, server, sleeps, tmp_path, cache_on):
    from mteb_xalign.cache import EmbeddingCache

    enc = make_encoder()
    if not cache_on:
        enc._cache = EmbeddingCache(None)
    server.inject("status", code=429, headers={"Retry-After": "3600"})
    with pytest.raises(EmbeddingAPIError) as err:
        enc.embed(["paid for?"], prompt_type=None)
    message = str(err.value)
    if cache_on:
        assert "received so far are cached" in message and "cache is off" not in message
    else:
        assert "are cached" not in message and "cache is off" in message and "again" in message


def test_credentials_in_base_url_are_used_but_never_written(server, tmp_path, caplog, sleeps):
    """user:secret@host: sent as HTTP Basic, absent from the config, the meta, reprs, messages and logs."""
    from xalign_openai.config import ServiceConfig

    caplog.set_level(logging.DEBUG)
    secret = "pa55-w0rd-SECRET-91"
    server.api_key, server.basic_auth = None, ("alice", secret)
    url = server.base_url.replace("http://", f"http://alice:{secret}@")
    enc = OpenAIEncoder("fake/embed", cache=EmbeddingCache(tmp_path / "c.sqlite3"), sleep=sleeps.append,
                        base_url=url, model="fake-embed", api_key_env="", embed_dim=16, max_attempts=2)
    np.testing.assert_allclose(enc.embed(["hi"], prompt_type=None), expected(["hi"]), rtol=1e-6)
    server.inject("echo_auth_base64", code=500)
    server.inject("status", code=500, body=f"you sent alice:{secret}")
    with pytest.raises(EmbeddingAPIError) as err:
        enc.embed(["again"], prompt_type=None)
    basic = base64.b64encode(f"alice:{secret}".encode()).decode()
    for name, text in [("config", json.dumps(enc.config.to_kwargs())), ("repr", repr(enc) + repr(enc.client)),
                       ("error", str(err.value)), ("logs", caplog.text)]:
        assert secret not in text and basic[2:-2] not in text, f"the password leaked into {name}"
    assert enc.config.base_url == server.base_url
    with pytest.raises(ValueError, match="carries credentials .* and api_key_env"):
        ServiceConfig(model="m", base_url=url)  # the default api_key_env would fight over Authorization


def test_missing_key_variable_is_a_clear_error_before_any_request(make_encoder, server, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(EmbeddingAPIError, match=f"environment variable {KEY_ENV} is not set"):
        make_encoder().embed(["q"], prompt_type=None)
    assert server.requests == []


def test_service_without_key(make_encoder, server):
    server.api_key = None
    make_encoder(api_key_env="").embed(["q"], prompt_type=None)
    assert server.batches() == [["q"]]


# -- the persistent cache ----------------------------------------------------------------
def test_each_request_is_cached_at_once_and_a_rerun_pays_nothing(make_encoder, server, tmp_path):
    cache_path = tmp_path / "paid.sqlite3"
    texts = [f"t{i}" for i in range(6)]
    enc = make_encoder(cache_path, max_batch_size=2, max_attempts=2)
    calls = []
    real = enc.client.embed

    def embed_then_fail(batch, **kw):
        calls.append(batch)
        if len(calls) == 3:
            raise EmbeddingAPIError("out of credit")
        return real(batch, **kw)

    enc.client.embed = embed_then_fail  # the third request dies (credit gone, process killed, ...)
    with pytest.raises(EmbeddingAPIError, match="out of credit"):
        enc.embed(texts, prompt_type=None)
    assert len(EmbeddingCache(cache_path)) == 4  # the two answered requests are on disk
    out = make_encoder(cache_path, max_batch_size=2).embed(texts, prompt_type=None)
    np.testing.assert_allclose(out, expected(texts), rtol=1e-6)
    assert server.batches() == [texts[0:2], texts[2:4], texts[4:6]]
    make_encoder(cache_path).embed(texts[::-1], prompt_type=None)
    assert len(server.batches()) == 3  # a third run sends nothing at all


KILLED_CLIENT = textwrap.dedent("""
    import sys
    from mteb_xalign.cache import EmbeddingCache
    from xalign_openai.encoder import OpenAIEncoder
    base_url, cache_path, key_env = sys.argv[1:4]
    enc = OpenAIEncoder("fake/embed", base_url=base_url, model="fake-embed", api_key_env=key_env,
                        embed_dim=16, max_batch_size=2, timeout=60, cache=EmbeddingCache(cache_path))
    enc.embed([f"text number {i}" for i in range(10)], prompt_type=None)
    print("finished")
""")


def test_killed_client_loses_nothing_and_rerun_repeats_nothing(make_encoder, server, tmp_path):
    cache_path = tmp_path / "killed.sqlite3"
    server.hang_after(3)  # the 4th request waits: the client dies while it waits
    proc = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, server.base_url, str(cache_path), KEY_ENV],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(server.requests) < 4:
            assert proc.poll() is None, f"client exited early: {proc.communicate()}"
            assert time.monotonic() < deadline, "client never reached its 4th request"
            time.sleep(0.05)
        proc.kill()  # SIGKILL: no cleanup, no atexit, no flush
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "finished" not in out
    first_run = set(server.answered)
    assert len(first_run) == 6  # three requests of two texts were answered before the kill
    server.release()
    server._hang_after = None

    before = len(server.requests)
    texts = [f"text number {i}" for i in range(10)]
    out = make_encoder(cache_path, max_batch_size=2).embed(texts, prompt_type=None)
    np.testing.assert_allclose(out, expected(texts), rtol=1e-6)
    rerun_inputs = [t for r in server.requests[before:] for t in r["input"]]
    assert not set(rerun_inputs) & first_run, "the rerun paid again for texts answered before the kill"
    assert sorted(rerun_inputs) == sorted(set(texts) - first_run)
    assert all(server.answered[t] == 1 for t in texts)


# -- registration with mteb --------------------------------------------------------------
def test_openai_models_keep_mteb_metadata_with_our_loader():
    import mteb

    from mteb_xalign.mteb_compat import known_meta
    from xalign_openai.models import load_encoder

    for name, dim in [("openai/text-embedding-3-small", 1536), ("openai/text-embedding-3-large", 3072)]:
        original = known_meta(name)  # mteb's own meta, which ours replaced in the registry
        meta = mteb.get_model_meta(name)
        assert meta.loader is load_encoder
        assert meta.embed_dim == dim and meta.max_tokens == 8191 and meta.open_weights is False
        assert meta.loader_kwargs["model"] == name.split("/")[1] and meta.loader_kwargs["api_key_env"] == "OPENAI_API_KEY"
        for field in ("revision", "release_date", "languages", "license", "reference", "framework", "n_parameters"):
            assert getattr(meta, field) == getattr(original, field), field
    meta = mteb.get_model_meta("openai/text-embedding-3-small (embed_dim=512)")
    assert meta.loader_kwargs["dimensions"] == 512 and meta.embed_dim == 512
    assert mteb.get_model_meta("openai/text-embedding-ada-002").loader_kwargs["dimensions"] is None


def test_builtin_model_loads_through_mteb_and_uses_base_url_env(server, monkeypatch):
    import mteb

    monkeypatch.setenv("XALIGN_OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.models["text-embedding-3-small"] = 1536
    model = mteb.get_model("openai/text-embedding-3-small")
    assert model.client.display_url == server.base_url + "/embeddings"
    out = model.embed(["hola"], prompt_type=None)
    np.testing.assert_allclose(out[0], fake_vector("text-embedding-3-small", "hola", 1536), rtol=1e-5)


def test_models_file_errors_name_file_and_entry(tmp_path):
    path = tmp_path / "models.toml"
    path.write_text('[[model]]\nadapter = "openai"\nname = "acme/a"\nembed_dim = 4\n\n'
                    '[[model]]\nadapter = "openai"\nname = "acme/b"\nembed_dims = 4\n')
    with pytest.raises(DataError, match=r"models.toml: model #2 \(acme/b\): unknown key\(s\) \['embed_dims'\]; "
                                        r"did you mean 'embed_dim'"):
        read_models_file(path)
    path.write_text('[[model]]\nadapter = "openai"\nname = "acme/a"\nmax_batch_size = 0\n')
    with pytest.raises(DataError, match=r"model #1 \(acme/a\): max_batch_size must be an integer >= 1"):
        read_models_file(path)
    path.write_text('[[model]]\nadapter = "openai"\nname = "no-slash"\n')
    with pytest.raises(DataError, match="'name' must look like 'org/model'"):
        read_models_file(path)
    path.write_text('[[model]]\nadapter = "openai"\nname = "acme/a"\nbase_url = "ftp://x"\n')
    with pytest.raises(DataError, match="base_url must start with http"):
        read_models_file(path)
    # Other plugins' entries (their own keys included) are theirs to check, not ours.
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": [
        {"name": "st/model", "path": "/somewhere", "pooling": "mean"},
        {"name": "acme/c", "adapter": "openai", "base_url": "http://h/v1/", "api_key_env": ""},
    ]}))
    [(info, service)] = read_models_file(path)
    assert (info.name, service.model, service.base_url, service.api_key_env) == ("acme/c", "c", "http://h/v1", None)
    with pytest.raises(ValueError, match="dimensions=8 contradicts embed_dim=16"):
        ServiceConfig(model="m", dimensions=8, embed_dim=16)


def _models_file(tmp_path, server) -> Path:
    path = tmp_path / "api-models.toml"
    path.write_text(textwrap.dedent(f"""
        [[model]]
        name = "someone/sentence-model"   # a sentence-transformers entry: not ours
        adapter = "sentence-transformers"
        path = "/nowhere"

        [[model]]
        adapter = "openai"
        name = "fakeorg/fake-embed-8"
        base_url = "{server.base_url}"
        model = "fake-embed"
        api_key_env = "{KEY_ENV}"
        dimensions = 8
        max_tokens = 8191
        timeout = 5.0
        languages = ["eng-Latn", "arb-Arab"]
        revision = "2026-11"
        reference = "http://example.invalid/fake"

        [[model]]
        adapter = "openai"                # mteb's name behind another URL: mteb's metadata stays
        name = "openai/text-embedding-3-large"
        base_url = "{server.base_url}"
        model = "text-embedding-3-large"
        api_key_env = "{KEY_ENV}"
        max_tokens = 8191
    """))
    return path


END_TO_END = textwrap.dedent("""
    import json, os, sys
    sys.path[:0] = sys.argv[1].split(os.pathsep)  # the test folders: fakes, the server's vectors
    import mteb
    import numpy as np
    from mteb.cache import ResultCache
    from fake_embeddings_server import fake_vector
    from fakes import counting_model

    # The models file's entries: a new service, and mteb's name behind another URL.
    meta = mteb.get_model_meta("fakeorg/fake-embed-8")
    large = mteb.get_model_meta("openai/text-embedding-3-large")
    metas = [[meta.embed_dim, meta.revision, meta.framework, meta.languages, meta.loader_kwargs["dimensions"]],
             [large.embed_dim, large.revision, large.release_date, large.open_weights, large.loader_kwargs["base_url"]]]

    subsets = ["multi_en+ar_q-ar"]
    def scores(model, folder):
        task = mteb.get_task("MultiRefCLIR", hf_subsets=subsets)
        result = mteb.evaluate(model, task, cache=ResultCache(folder), show_progress_bar=False)
        return {s["hf_subset"]: s for s in result.task_results[0].scores["test"]}

    api = scores(mteb.get_model("fakeorg/fake-embed-8"), sys.argv[2])
    # The same vectors computed in process: the API path must change nothing in the scores.
    direct = counting_model(name="test/direct", dim=8)
    direct.embed = lambda texts, prompt_type: np.stack([fake_vector("fake-embed", t, 8) for t in texts])
    reference = scores(direct, sys.argv[3])
    print(json.dumps({"metas": metas, "api": api, "reference": reference}))
""")


def test_configured_service_runs_multirefclir_through_mteb(tmp_path, server):
    """Models-file entries become mteb models; mteb's evaluation through the API gives the
    same scores as the same vectors computed in process; the key reaches no output."""
    server.inject("status", code=429, headers={"Retry-After": "0"}, body="rate limited")
    server.inject("shuffle")
    env = {**os.environ, "XALIGN_MODELS_FILE": str(_models_file(tmp_path, server)),
           "XALIGN_CACHE": str(tmp_path / "core-cache.sqlite3"), "XALIGN_OPENAI_CACHE": str(tmp_path / "api.sqlite3")}
    out, ref = tmp_path / "results", tmp_path / "reference"
    run = subprocess.run([sys.executable, "-c", END_TO_END, f"{TESTS}{os.pathsep}{CORE_TESTS}", str(out), str(ref)],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["metas"] == [[8, "2026-11", ["API"], ["eng-Latn", "arb-Arab"], 8],
                            [3072, "3", "2024-01-25", False, server.base_url]]
    assert set(got["api"]) == {"multi_en+ar_q-ar"}
    for subset, reference in got["reference"].items():
        for metric, value in reference.items():
            if isinstance(value, float):
                assert got["api"][subset][metric] == pytest.approx(value, abs=1e-6), (subset, metric)
    assert got["api"]["multi_en+ar_q-ar"]["n_queries"] == 1190
    # Every text went out once, through batches of at most 2048, with a retry on the 429.
    assert server.requests[0]["status"] == 429 and max(server.answered.values()) == 1
    assert all(len(batch) <= 2048 for batch in server.batches())
    written = [p for p in out.rglob("*") if p.is_file()] + list(tmp_path.glob("*.sqlite3*"))
    assert any(p.name == "MultiRefCLIR.json" for p in written)
    for path in written:
        assert KEY.encode() not in path.read_bytes(), f"the API key leaked into {path}"
    assert KEY not in run.stdout + run.stderr
