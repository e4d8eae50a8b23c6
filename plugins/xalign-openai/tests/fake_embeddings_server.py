"""A local OpenAI-compatible `/v1/embeddings` server for the API adapter's tests.

Embeddings are deterministic (a vector seeded by a hash of model and text), so a test can
check every row it gets back. Faults are queued with `inject(...)` and consumed one per
request, in order; `hang_after(n)` makes every request after the n-th successful one wait
(so a client process can be killed mid-run at a known point). The server counts, per
input text, how often it was received and how often its embedding was actually sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def fake_vector(model: str, text: str, dim: int) -> np.ndarray:
    """The server's embedding of `text` (unit length, float32)."""
    seed = int.from_bytes(hashlib.blake2b(f"{model}\0{text}".encode(), digest_size=8).digest(), "little")
    vector = np.random.default_rng(seed).standard_normal(dim)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


class FakeEmbeddingsServer:
    def __init__(self, *, api_key: str | None = "sk-fake-key", models: dict[str, int] | None = None,
                 no_dimensions: tuple[str, ...] = ("fake-legacy",)):
        self.api_key = api_key
        self.basic_auth: tuple[str, str] | None = None  # (user, password): HTTP Basic instead of a key
        self.models = models or {"fake-embed": 16, "fake-legacy": 12}
        self.no_dimensions = set(no_dimensions)  # models that reject the "dimensions" parameter
        self.faults: deque[dict] = deque()
        self.requests: list[dict] = []  # every request: inputs, dimensions, status sent
        self.received: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.successes = 0
        self.authorizations: list[tuple[str, str, str | None]] = []  # (method, path, Authorization) of every request
        self._hang_after: int | None = None
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> "FakeEmbeddingsServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def inject(self, kind: str, **options) -> None:
        """Queue a fault for the next request without one: status, timeout, malformed,
        wrong_dim, wrong_count, nan, overflow (1e39: finite, but inf as float32), missing_data, shuffle (answer with indices reversed),
        trickle (a valid answer sent one byte every `seconds` s, as a stalled proxy would),
        echo_auth_base64 (HTTP `code`, default 400, whose body quotes the received
        Authorization header base64-encoded, as some gateways' debug output does),
        redirect (HTTP `code`, default 302, with `Location: location`). A `status` fault
        with `raw=True` sends `body` as it is (text/plain), not inside a JSON error object."""
        self.faults.append({"kind": kind, **options})

    def hang_after(self, successes: int) -> None:
        """Requests after the `successes`-th successful one block until `release()`."""
        self._hang_after = successes

    def release(self) -> None:
        self._release.set()

    def batches(self) -> list[list[str]]:
        """The inputs of every request that was answered with embeddings."""
        return [r["input"] for r in self.requests if r["status"] == 200 and r.get("ok")]

    # -- the handler -----------------------------------------------------------------
    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                server._note_auth(self)
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                server._handle(self, raw)

            def do_GET(self):  # what a client following a 301/302/303 sends: recorded, refused
                server._note_auth(self)
                server._send(self, 405, b'{"error": {"message": "use POST"}}')

        return Handler

    def _note_auth(self, handler) -> None:
        with self._lock:
            self.authorizations.append((handler.command, handler.path, handler.headers.get("Authorization")))

    def _send(self, handler, status: int, body: bytes, headers: dict | None = None,
              content_type: str = "application/json") -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) or was killed

    def _error(self, handler, record, status, message, headers=None):
        record["status"] = status
        self._send(handler, status, json.dumps({"error": {"message": message}}).encode(), headers)

    def _handle(self, handler, raw: bytes) -> None:
        record: dict = {"status": None}
        with self._lock:
            self.requests.append(record)
            fault = self.faults.popleft() if self.faults else None
            must_hang = self._hang_after is not None and self.successes >= self._hang_after
        if handler.path != "/v1/embeddings":
            return self._error(handler, record, 404, f"no route {handler.path}")
        auth = handler.headers.get("Authorization")
        if self.basic_auth is not None:
            wanted = "Basic " + base64.b64encode(":".join(self.basic_auth).encode()).decode()
            if auth != wanted:
                return self._error(handler, record, 401, f"bad credentials: {auth}")
        elif self.api_key is not None and auth != f"Bearer {self.api_key}":
            # Like OpenAI, echo what was received: the client must keep it out of its errors.
            return self._error(handler, record, 401, f"Incorrect API key provided: {auth}")
        try:
            payload = json.loads(raw)
            inputs = payload["input"]
            model = payload["model"]
        except (ValueError, KeyError):
            return self._error(handler, record, 400, "bad request body")
        if isinstance(inputs, str):
            inputs = [inputs]
        record.update(input=list(inputs), dimensions=payload.get("dimensions"), model=model)
        with self._lock:
            self.received.update(inputs)
        if model not in self.models:
            return self._error(handler, record, 404, f"model {model} does not exist")
        dim = self.models[model]
        if "dimensions" in payload:
            if model in self.no_dimensions:
                return self._error(handler, record, 400, f"{model} does not support 'dimensions'")
            dim = int(payload["dimensions"])
        if any(not isinstance(t, str) or t == "" for t in inputs):
            return self._error(handler, record, 400, "'$.input' is invalid")
        if must_hang:
            self._release.wait(60)
            return self._error(handler, record, 503, "hung request released")

        kind = fault["kind"] if fault else None
        if kind == "echo_auth_base64":
            echoed = base64.b64encode((auth or "").encode()).decode()
            return self._error(handler, record, fault.get("code", 400), f"request rejected; debug={echoed}")
        if kind == "redirect":
            record["status"] = fault.get("code", 302)
            return self._send(handler, record["status"], b"", {"Location": fault["location"]})
        if kind == "status" and fault.get("raw"):
            record["status"] = fault["code"]
            return self._send(handler, fault["code"], fault["body"].encode(), content_type="text/plain")
        if kind == "status":
            headers = fault.get("headers", {})
            return self._error(handler, record, fault["code"], fault.get("body", "injected failure"), headers)
        if kind == "timeout":
            time.sleep(fault.get("seconds", 1.0))  # past the client's timeout

        vectors = [fake_vector(model, text, dim) for text in inputs]
        data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
        if kind == "wrong_dim":
            for item in data:
                item["embedding"] = item["embedding"][:-1]
        elif kind == "wrong_count":
            data = data[:-1]
        elif kind == "nan":
            data[0]["embedding"][0] = float("nan")
        elif kind == "overflow":  # finite as a JSON number (float64), inf as float32
            data[0]["embedding"][0] = 1e39
        elif kind == "shuffle":
            data.reverse()
        body_obj = {"object": "list", "data": data, "model": model,
                    "usage": {"prompt_tokens": sum(len(t.split()) for t in inputs), "total_tokens": 0}}
        if kind == "missing_data":
            del body_obj["data"]
        body = json.dumps(body_obj).encode()
        if kind == "malformed":
            body = body[: len(body) // 2]  # cut mid-stream, as a dropped proxy connection would
        record["status"] = 200
        if kind == "trickle":
            return self._trickle(handler, body, fault.get("seconds", 0.1))
        ok = kind not in {"malformed", "wrong_dim", "wrong_count", "nan", "overflow", "missing_data", "timeout"}
        record["ok"] = ok
        if ok:
            with self._lock:
                self.successes += 1
                self.answered.update(inputs)
        self._send(handler, 200, body)

    def _trickle(self, handler, body: bytes, seconds: float) -> None:
        """Headers at once, then the body byte by byte: every read the client makes returns
        within its socket timeout, so only an overall deadline ends the request."""
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.flush()
            for i in range(len(body)):
                handler.wfile.write(body[i:i + 1])
                handler.wfile.flush()
                time.sleep(seconds)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client gave up: what a deadline should make it do
