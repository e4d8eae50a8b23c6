"""Settings of one embeddings service, and the file that adds services as mteb models.

A service is any server speaking OpenAI's `POST {base_url}/embeddings`. The API key is
never part of a config: a config names the *environment variable* holding it, and the
key is read from the environment only when a request is sent.

Services become mteb models through the models files all model plugins share, read by
`mteb_xalign.models_file` (which describes where they are, their format and which entry
wins); this plugin takes the entries with adapter = "openai":

    [[model]]
    adapter = "openai"
    name = "acme/embed-v2"                 # the mteb model name (org/name): required
    base_url = "http://localhost:8000/v1"  # default: XALIGN_OPENAI_BASE_URL, else OpenAI's
    model = "embed-v2"                     # id sent to the API (default: the part after "/")
    api_key_env = "ACME_API_KEY"           # default OPENAI_API_KEY; "" sends no key
    embed_dim = 1024                       # checked against every response
    prompts = { query = "query: ", document = "passage: " }

Any field of `ServiceConfig` or of `ModelInfo` may be given; an unknown one is an error
naming the file and the entry, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import os
import urllib.parse
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mteb_xalign import models_file
from mteb_xalign.errors import DataError

OPENAI_BASE_URL = "https://api.openai.com/v1"
MODELS_FILE_ENV = models_file.ENV_VAR  # shared with the other model plugins
ADAPTER = "openai"


@dataclass(frozen=True)
class ServiceConfig:
    """How to call one embeddings endpoint. Holds no secret: only the key's variable name."""

    model: str
    base_url: str = OPENAI_BASE_URL
    api_key_env: str | None = "OPENAI_API_KEY"
    embed_dim: int | None = None
    # Sent as the request's "dimensions" (Matryoshka truncation) when set; only some models accept it.
    dimensions: int | None = None
    max_tokens: int | None = None  # per input; longer inputs are truncated before sending
    max_batch_size: int = 2048  # inputs per request (OpenAI's limit)
    # Estimated tokens per request. OpenAI allows 300k; the margin absorbs estimation error.
    max_batch_tokens: int = 200_000
    # Without tiktoken a text counts ceil(UTF-8 bytes / bytes_per_token) tokens. English runs
    # near 4 bytes a token, CJK near 3, so 3 rarely under-counts.
    bytes_per_token: float = 3.0
    tokenizer: str | None = None  # a tiktoken encoding name, used when tiktoken is installed
    timeout: float = 60.0  # seconds per socket operation
    # Seconds for a whole request (connect, send, answer): a server trickling bytes slower
    # than `timeout` apart would otherwise hold one request for ever.
    request_deadline: float = 300.0
    max_attempts: int = 6  # per request, all causes together
    max_malformed_retries: int = 2  # extra tries for an unparseable 200 response
    backoff_base: float = 1.0  # full jitter: sleep U(0, min(backoff_max, base * 2**retry))
    backoff_max: float = 60.0
    # A server asking (Retry-After) to wait longer than this is not retried: the run stops
    # with a message instead. A long wait means a spent quota; retrying sooner disobeys the
    # server, and sleeping for hours looks like a hang.
    max_retry_after: float = 120.0
    prompts: dict[str, str] = field(default_factory=dict)  # role ("query"/"document") -> prefix

    def __post_init__(self) -> None:
        problems = []
        if not self.model:
            problems.append("model must be a non-empty API model id")
        if not self.base_url.startswith(("http://", "https://")):
            problems.append(f"base_url must start with http:// or https://, got {self.base_url!r}")
        for name in ("embed_dim", "dimensions", "max_tokens"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
                problems.append(f"{name} must be a positive integer, got {value!r}")
        for name in ("max_batch_size", "max_batch_tokens", "max_attempts"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.max_malformed_retries, int) or self.max_malformed_retries < 0:
            problems.append(f"max_malformed_retries must be an integer >= 0, got {self.max_malformed_retries!r}")
        for name in ("bytes_per_token", "timeout", "request_deadline", "backoff_max", "max_retry_after"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                problems.append(f"{name} must be a positive number, got {value!r}")
        if not isinstance(self.backoff_base, (int, float)) or self.backoff_base < 0:
            problems.append(f"backoff_base must be a number >= 0, got {self.backoff_base!r}")
        if self.dimensions is not None and self.embed_dim is not None and self.dimensions != self.embed_dim:
            problems.append(f"dimensions={self.dimensions} contradicts embed_dim={self.embed_dim}")
        if not isinstance(self.prompts, dict) or not all(
            k in ("query", "document") and isinstance(v, str) for k, v in self.prompts.items()
        ):
            problems.append(f"prompts must map 'query'/'document' to strings, got {self.prompts!r}")
        base_url, userinfo = split_credentials(self.base_url) if not problems else (self.base_url, None)
        if userinfo is not None and self.api_key_env:
            problems.append(f"base_url {base_url!r} carries credentials (user:password@) and api_key_env "
                            f"= {self.api_key_env!r} is set: both would go in the Authorization header; set "
                            'api_key_env = "" to use the credentials of the URL')
        if problems:
            raise ValueError("; ".join(problems))
        # The credentials leave the config (and so the ModelMeta, model_meta.json, reprs and
        # messages): they are kept by URL in this process only, for the client to send.
        base_url = base_url.rstrip("/")
        if userinfo is not None:
            remember_credentials(base_url, userinfo)
        object.__setattr__(self, "base_url", base_url)
        object.__setattr__(self, "api_key_env", self.api_key_env or None)

    @property
    def url(self) -> str:
        return f"{self.base_url}/embeddings"

    @property
    def expected_dim(self) -> int | None:
        return self.dimensions or self.embed_dim

    def to_kwargs(self) -> dict[str, Any]:
        """The loader kwargs stored in the ModelMeta (and so in result files): no secret here."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: base_url (without credentials) -> "user:password" taken out of it; never written anywhere.
_URL_CREDENTIALS: dict[str, str] = {}


def split_credentials(url: str) -> tuple[str, str | None]:
    """(url without user:password@, the "user:password" part or None)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), urllib.parse.unquote(userinfo)


def remember_credentials(base_url: str, userinfo: str) -> None:
    known = _URL_CREDENTIALS.get(base_url)
    if known is not None and known != userinfo:
        raise ValueError(f"two different credentials are configured for {base_url}")
    _URL_CREDENTIALS[base_url] = userinfo


def credentials_for(base_url: str) -> str | None:
    """The "user:password" configured in a base_url (HTTP Basic), if any."""
    return _URL_CREDENTIALS.get(base_url)


@dataclass(frozen=True)
class ModelInfo:
    """What the mteb ModelMeta says about a configured service's model."""

    name: str
    revision: str | None = None
    languages: list[str] | None = None
    release_date: str | None = None
    reference: str | None = None
    license: str | None = None
    open_weights: bool | None = None
    n_parameters: int | None = None
    similarity_fn_name: str = "cosine"
    stated: tuple[str, ...] = ()  # the fields the entry gave (the rest may come from mteb's meta)


_SERVICE_FIELDS = {f.name for f in fields(ServiceConfig)}
_INFO_FIELDS = {f.name for f in fields(ModelInfo)} - {"stated"}


def env_overrides(config: ServiceConfig, *, base_url: bool) -> ServiceConfig:
    """Apply XALIGN_OPENAI_* environment settings (timeout, attempts, token budget).

    XALIGN_OPENAI_BASE_URL replaces the URL only where asked (the built-in OpenAI models);
    a configured service keeps the URL its entry names.
    """
    updates: dict[str, Any] = {}
    env_url = os.environ.get("XALIGN_OPENAI_BASE_URL")
    if base_url and env_url:
        updates["base_url"] = env_url
    for env, name, kind in (
        ("XALIGN_OPENAI_TIMEOUT", "timeout", float),
        ("XALIGN_OPENAI_MAX_ATTEMPTS", "max_attempts", int),
        ("XALIGN_OPENAI_MAX_BATCH_TOKENS", "max_batch_tokens", int),
        ("XALIGN_OPENAI_BACKOFF_BASE", "backoff_base", float),
        ("XALIGN_OPENAI_REQUEST_DEADLINE", "request_deadline", float),
        ("XALIGN_OPENAI_MAX_RETRY_AFTER", "max_retry_after", float),
    ):
        raw = os.environ.get(env)
        if raw:
            try:
                updates[name] = kind(raw)
            except ValueError:
                raise ValueError(f"{env}={raw!r} is not a valid {kind.__name__}") from None
    return replace(config, **updates) if updates else config


def models_files() -> list[Path]:
    """The user's models file (if any), then every file in XALIGN_MODELS_FILE, in reading order."""
    return models_file.models_files()


def configured_services() -> dict[str, tuple[ModelInfo, ServiceConfig]]:
    """name -> (info, service) for every `adapter = "openai"` entry; a later file's entry wins."""
    services: dict[str, tuple[ModelInfo, ServiceConfig]] = {}
    for path in models_files():
        for info, service in read_models_file(path):
            services[info.name] = (info, service)
    return services


def read_models_file(path: str | Path) -> list[tuple[ModelInfo, ServiceConfig]]:
    """This adapter's entries of one models file; every error names the file and the entry."""
    path = Path(path)
    default_base = os.environ.get("XALIGN_OPENAI_BASE_URL") or OPENAI_BASE_URL
    out: list[tuple[ModelInfo, ServiceConfig]] = []
    seen: set[str] = set()
    for raw in models_file.read_entries(path, ADAPTER):
        label = f"model #{raw.index} ({raw.name})"
        entry = {k: v for k, v in raw.fields.items() if k != "adapter"}
        unknown = sorted(set(entry) - _SERVICE_FIELDS - _INFO_FIELDS)
        if unknown:
            hints = [difflib.get_close_matches(k, _SERVICE_FIELDS | _INFO_FIELDS, n=1) for k in unknown]
            hint = "".join(f"; did you mean '{h[0]}' for '{k}'?" for k, h in zip(unknown, hints) if h)
            raise DataError(f"{label}: unknown key(s) {unknown}{hint}", path=path)
        name = raw.name
        if name.count("/") != 1 or not all(name.split("/")):
            raise DataError(f"{label}: 'name' must look like 'org/model', got {name!r}", path=path)
        if name in seen:
            raise DataError(f"{label}: model name {name!r} is listed twice", path=path)
        seen.add(name)
        service_args = {k: v for k, v in entry.items() if k in _SERVICE_FIELDS}
        service_args.setdefault("model", name.split("/")[1])
        service_args.setdefault("base_url", default_base)
        if "embed_dim" not in service_args and "dimensions" in service_args:
            service_args["embed_dim"] = service_args["dimensions"]
        info_args = {k: v for k, v in entry.items() if k in _INFO_FIELDS}
        try:
            service = ServiceConfig(**service_args)
            info = ModelInfo(**info_args, stated=tuple(sorted(info_args)))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{label}: {exc}", path=path) from None
        out.append((info, service))
    return out
