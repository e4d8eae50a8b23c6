"""One `POST /embeddings` request, retried until it yields valid embeddings or clearly fails.

Retries: 408, 409, 429 and 5xx answers, timeouts and connection errors, with exponential
backoff and full jitter (sleep U(0, min(cap, base * 2**retry))), unless the server says
how long to wait (Retry-After in seconds or as an HTTP date, or retry-after-ms). A 200
whose body is not JSON is retried a bounded number of times (a proxy cut it short); a
well-formed answer that is wrong (count, dimension, indices, NaN) is not, since asking
again would pay for the same wrong answer.

The API key is read from its environment variable inside `_send` only, and `_send` turns
every transport outcome into a plain value instead of raising, so no exception or
traceback frame raised from here ever holds the request headers. Response excerpts in
messages are scrubbed of the key, in every encoding we can derive, in case a server echoes it.

Redirects are never followed: urllib would resend the Authorization header to wherever
the Location points (another host or port, too). A 30x stops the request with one line
naming the new address, so the user puts the right base_url in the configuration.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import logging
import os
import random
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import numpy as np

from mteb_xalign.errors import ServiceError
from xalign_openai.config import ServiceConfig, credentials_for

logger = logging.getLogger("xalign_openai")

RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
USER_AGENT = "xalign-openai/0.1 (mteb-xalign)"


class EmbeddingAPIError(ServiceError):
    """A request that could not produce embeddings. Carries the last HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 0):
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class MalformedResponse(ValueError):
    """The body of a 200 is not JSON (truncated, an HTML error page, ...): worth asking again."""


class InvalidResponse(ValueError):
    """JSON that does not hold the embeddings asked for: asking again would not help."""


@dataclass
class _Outcome:
    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None  # transport failure (timeout, refused, reset), no response


@dataclass
class Embeddings:
    vectors: np.ndarray  # float32, (n, dim), in input order
    prompt_tokens: int | None


class EmbeddingsClient:
    """Sends batches to one service. `sleep`, `clock` and `rng` are injectable for tests."""

    def __init__(
        self,
        config: ServiceConfig,
        *,
        label: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ):
        self.config = config
        self.label = label
        self.sleep = sleep
        self.clock = clock
        self.rng = rng or random.Random()
        self.display_url = _without_userinfo(config.url)
        #: What became of the embeddings received so far, for messages; the encoder, which
        #: owns the cache, replaces it.
        self.kept: Callable[[], str] = lambda: "embeddings received so far were returned to the caller"
        self.requests_sent = 0
        self.prompt_tokens = 0

    def __repr__(self) -> str:
        return (f"EmbeddingsClient(label={self.label!r}, url={self.display_url!r}, "
                f"model={self.config.model!r}, api_key_env={self.config.api_key_env!r})")

    def check_key(self) -> None:
        env = self.config.api_key_env
        if env and not os.environ.get(env):
            raise EmbeddingAPIError(
                f"{self.label}: the environment variable {env} is not set; it must hold the API key "
                f"for {self.display_url} (set api_key_env = \"\" in the models file for a service without keys)"
            )

    def embed(self, texts: list[str], *, expected_dim: int | None) -> Embeddings:
        """Embeddings for `texts` (one request, retried), validated and in input order."""
        self.check_key()
        payload: dict = {"model": self.config.model, "input": texts}
        if self.config.dimensions is not None:
            payload["dimensions"] = self.config.dimensions
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")

        cfg = self.config
        malformed = 0
        attempt = 0
        while True:
            attempt += 1
            self.requests_sent += 1
            outcome = self._send(body)
            retry_after = None
            if outcome.error is not None:
                problem = outcome.error
            elif outcome.status == 200:
                try:
                    result = parse_response(outcome.body, len(texts), expected_dim)
                except MalformedResponse as exc:
                    malformed += 1
                    problem = f"HTTP 200 with a malformed body ({exc}); body: {self._excerpt(outcome.body)}"
                    if malformed > cfg.max_malformed_retries:
                        raise self._final(attempt, problem, 200) from None
                except InvalidResponse as exc:
                    raise EmbeddingAPIError(
                        f"{self.label}: POST {self.display_url} answered HTTP 200 but {exc}; "
                        f"response body: {self._excerpt(outcome.body)}",
                        status=200, attempts=attempt,
                    ) from None
                else:
                    if result.prompt_tokens:
                        self.prompt_tokens += result.prompt_tokens
                    return result
            elif 300 <= outcome.status < 400:
                raise EmbeddingAPIError(
                    f"{self.label}: POST {self.display_url} answered HTTP {outcome.status} {outcome.reason}, a "
                    f"redirect to {self._location(outcome.headers)}; redirects are not followed (the API key "
                    "would go with them): set base_url to the address the service answers at",
                    status=outcome.status, attempts=attempt,
                )
            else:
                problem = f"HTTP {outcome.status} {outcome.reason}: {self._excerpt(outcome.body)}".strip()
                if outcome.status not in RETRYABLE_STATUS:
                    raise EmbeddingAPIError(
                        f"{self.label}: POST {self.display_url} failed (not retried): {problem}",
                        status=outcome.status, attempts=attempt,
                    )
                retry_after = parse_retry_after(outcome.headers, now=self.clock())
                if retry_after is not None and retry_after > cfg.max_retry_after:
                    raise EmbeddingAPIError(
                        f"{self.label}: POST {self.display_url} answered HTTP {outcome.status} asking to wait "
                        f"{retry_after:.0f} s (Retry-After), more than max_retry_after = {cfg.max_retry_after:g} s: "
                        f"stopped instead of waiting ({self.kept()}); rerun later, or raise "
                        "max_retry_after (XALIGN_OPENAI_MAX_RETRY_AFTER)",
                        status=outcome.status, attempts=attempt,
                    )
            if attempt >= cfg.max_attempts:
                raise self._final(attempt, problem, outcome.status)
            if retry_after is not None:
                delay = retry_after
            else:
                delay = self.rng.uniform(0, min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1)))
            logger.warning("%s: %s; retrying in %.2f s (attempt %d of %d)",
                           self.label, problem, delay, attempt + 1, cfg.max_attempts)
            self.sleep(delay)

    def _final(self, attempts: int, problem: str, status: int | None) -> EmbeddingAPIError:
        return EmbeddingAPIError(
            f"{self.label}: POST {self.display_url} failed after {attempts} attempt(s); last error: {problem}",
            status=status, attempts=attempts,
        )

    def _send(self, body: bytes) -> _Outcome:
        """One HTTP exchange within `request_deadline`; never raises (see the module docstring for why)."""
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}
        if self.config.api_key_env:
            headers["Authorization"] = "Bearer " + os.environ.get(self.config.api_key_env, "")
        userinfo = credentials_for(self.config.base_url)
        if userinfo is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(userinfo.encode("utf-8")).decode("ascii")
        request = urllib.request.Request(self.config.url, data=body, headers=headers, method="POST")
        del headers, userinfo
        watchdog = _Deadline(self.config.request_deadline)
        opener = urllib.request.build_opener(_DeadlineHTTPHandler(watchdog), _DeadlineHTTPSHandler(watchdog),
                                             _NoRedirects())
        timeout = min(self.config.timeout, self.config.request_deadline)
        try:
            with opener.open(request, timeout=timeout) as response:
                outcome = _Outcome(response.status, response.reason, _lower(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            try:
                data = exc.read()
            except (OSError, http.client.HTTPException):
                data = b""
            outcome = _Outcome(exc.code, str(exc.reason or _phrase(exc.code)), _lower(exc.headers), data)
        except (TimeoutError, socket.timeout):
            outcome = _Outcome(error=f"timed out after {self.config.timeout:g} s")
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                outcome = _Outcome(error=f"timed out after {self.config.timeout:g} s")
            else:
                outcome = _Outcome(error=f"connection error: {exc.reason}")
        except (OSError, http.client.HTTPException) as exc:
            outcome = _Outcome(error=f"connection error: {type(exc).__name__}: {exc}")
        finally:
            watchdog.cancel()
            del request
        if watchdog.expired:  # whatever the socket said after it was cut
            return _Outcome(error=f"no complete answer within the request deadline of "
                                  f"{self.config.request_deadline:g} s (the server sends too slowly)")
        return outcome

    def _location(self, headers: dict[str, str]) -> str:
        location = headers.get("location")
        if not location:
            return "(no Location header)"
        shown = _without_userinfo(urllib.parse.urljoin(self.display_url, " ".join(location.split())))
        return redact(shown, self.config.api_key_env, self.config.base_url)[:300]

    def _excerpt(self, body: bytes, limit: int = 300) -> str:
        text = " ".join(body.decode("utf-8", errors="replace").split())
        text = redact(text, self.config.api_key_env, self.config.base_url)
        return (text[:limit] + ("…" if len(text) > limit else "")) if text else "(empty body)"


def redact(text: str, key_env: str | None, base_url: str | None = None) -> str:
    """`text` with every secret replaced: the API key, a base_url's password, each alone and as
    the Authorization header, in every encoding of `_secret_forms` (a gateway may echo the
    header encoded), and any bearer token."""
    secrets = []
    key = os.environ.get(key_env, "") if key_env else ""
    if key:
        secrets += [key, f"Bearer {key}"]
    userinfo = credentials_for(base_url) if base_url else None
    if userinfo:
        secrets += [userinfo, f"Basic {userinfo}", userinfo.partition(":")[2]]
    for form in sorted({f for secret in secrets if secret for f in _secret_forms(secret)}, key=len, reverse=True):
        text = text.replace(form, "[REDACTED]")
    return re.sub(r"(?i)((?:bearer|basic)\s+)(?!\[REDACTED\])\S+", r"\1[REDACTED]", text)


def _secret_forms(secret: str) -> set[str]:
    """Every form of `secret` a server might echo: as is, URL-encoded (quote, quote_plus,
    upper- or lower-case escapes), hex (either case), JSON-escaped (ASCII or not, "/" escaped
    or not) and base64 (standard or URL-safe, padded or not). For base64, also the part of the
    encoding that does not depend on the bytes around the secret, at each of the three byte
    alignments, so the secret is found inside any longer base64 string too (a whole header)."""
    forms = {secret}
    for quoted in (urllib.parse.quote(secret), urllib.parse.quote(secret, safe=""),
                   urllib.parse.quote_plus(secret), urllib.parse.quote_plus(secret, safe="")):
        forms.update({quoted, re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quoted)})
    for ascii_only in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        forms.update({escaped, escaped.replace("/", "\\/")})
    raw = secret.encode("utf-8")
    forms.update({raw.hex(), raw.hex().upper()})
    for encoded in (base64.b64encode(raw).decode("ascii"), base64.urlsafe_b64encode(raw).decode("ascii")):
        forms.update({encoded, encoded.rstrip("=")})
    if len(raw) < 6:  # too short for a base64 core that could not occur by chance
        return forms
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = -(-8 * offset // 6)  # first character made only of the secret's bits
        end = (8 * (offset + len(raw))) // 6  # one past the last such character
        core = encoded[start:end]
        forms.update({core, core.replace("+", "-").replace("/", "_")})
    return forms


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand every 30x back as the answer: following it would send the key along (module docstring)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class _Deadline:
    """Cuts the request's socket when the deadline passes: blocked reads return at once."""

    def __init__(self, seconds: float):
        import threading

        self.expired = False
        self._sockets: list = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock) -> None:
        self._sockets.append(sock)
        if self.expired:
            self._expire()

    def _expire(self) -> None:
        self.expired = True
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()


def _deadline_connection(base: type, watchdog: _Deadline) -> type:
    class Connection(base):
        def connect(self):
            super().connect()
            watchdog.watch(self.sock)

    return Connection


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watchdog: _Deadline):
        super().__init__()
        self._connection = _deadline_connection(http.client.HTTPConnection, watchdog)

    def http_open(self, req):
        return self.do_open(self._connection, req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, watchdog: _Deadline):
        super().__init__()
        self._connection = _deadline_connection(http.client.HTTPSConnection, watchdog)

    def https_open(self, req):
        return self.do_open(self._connection, req, context=self._context)


def parse_retry_after(headers: dict[str, str], *, now: float) -> float | None:
    """Seconds to wait from retry-after-ms, or Retry-After as seconds or an HTTP date."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000
            if value >= 0 and np.isfinite(value):
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return value if value >= 0 and np.isfinite(value) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def parse_response(body: bytes, n_inputs: int, expected_dim: int | None) -> Embeddings:
    """Validate an embeddings response; rows come back sorted by their "index"."""
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedResponse(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidResponse(f"the JSON is a {type(obj).__name__}, not an object")
    data = obj.get("data")
    if not isinstance(data, list):
        hint = f" (it holds an error: {obj['error']!r})" if "error" in obj else ""
        raise InvalidResponse(f"the response has no 'data' list{hint}")
    if len(data) != n_inputs:
        raise InvalidResponse(f"it returned {len(data)} embeddings for {n_inputs} inputs")
    if not all(isinstance(item, dict) and "embedding" in item for item in data):
        raise InvalidResponse("an item of 'data' has no 'embedding'")
    with_index = [("index" in item) for item in data]
    if all(with_index):
        indices = [item["index"] for item in data]
        if any(not isinstance(i, int) or isinstance(i, bool) for i in indices) or sorted(indices) != list(range(n_inputs)):
            raise InvalidResponse(f"the indices are not a permutation of 0..{n_inputs - 1}: {indices[:20]}")
        data = sorted(data, key=lambda item: item["index"])  # servers may answer out of order
    elif any(with_index):
        raise InvalidResponse("some items of 'data' have an 'index' and some do not")

    rows = [_decode_embedding(item["embedding"], position) for position, item in enumerate(data)]
    lengths = {len(row) for row in rows}
    if len(lengths) > 1:
        raise InvalidResponse(f"the embeddings have different dimensions: {sorted(lengths)}")
    with np.errstate(over="ignore"):  # checked below, as float32: 1e39 is finite in float64 only
        vectors = (np.asarray(rows, dtype=np.float64).astype(np.float32) if rows
                   else np.zeros((0, expected_dim or 0), np.float32))
    if expected_dim is not None and rows and vectors.shape[1] != expected_dim:
        raise InvalidResponse(f"the embeddings have dimension {vectors.shape[1]}, expected {expected_dim}")
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1)) if rows else []
    if len(bad):
        raise InvalidResponse(f"the embeddings of inputs {bad[:10].tolist()} contain NaN or infinite values "
                              "(as float32, whose largest value is 3.4e38)")
    usage = obj.get("usage")
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return Embeddings(vectors, tokens if isinstance(tokens, int) else None)


def _decode_embedding(value, position: int) -> list[float] | np.ndarray:
    if isinstance(value, str):  # encoding_format=base64: little-endian float32
        try:
            return np.frombuffer(base64.b64decode(value, validate=True), dtype="<f4")
        except ValueError:
            raise InvalidResponse(f"embedding {position} is a string but not base64 float32") from None
    if not isinstance(value, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in value
    ):
        raise InvalidResponse(f"embedding {position} is not a list of numbers")
    if not value:
        raise InvalidResponse(f"embedding {position} is empty")
    return value


def _lower(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers.items() if headers is not None else [])}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _without_userinfo(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))
