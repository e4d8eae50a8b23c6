"""How one LLM embedder is run: everything that changes its vectors, checked up front.

Kept free of torch and transformers: settings are built when mteb is imported (every
`import mteb` registers our models), the weights only when a model is loaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: Qwen3-Embedding's own template (its README: f"Instruct: {task}\nQuery:{query}", no space).
QWEN3_TEMPLATE = "Instruct: {instruction}\nQuery:{text}"
#: e5-mistral and gte-Qwen2 (their READMEs: f"Instruct: {task}\nQuery: {query}").
E5_TEMPLATE = "Instruct: {instruction}\nQuery: {text}"

POOLINGS = ("last", "mean")
PADDING_SIDES = ("left", "right")


@dataclass(frozen=True)
class LLMSettings:
    """One LLM embedder.

    - sources: where the weights are, tried in order by `mteb_xalign.weights.resolve`
      ("path:/folder", "package:pkg:folder", "hf:org/name"; a bare string is a path if it
      starts with / ~ . and a hub id otherwise). Hub ids are looked for in XALIGN_WEIGHTS_DIR
      and the HF cache before any download; `model_revision` pins the hub commit.

    - instruction_template: must contain "{instruction}"; "{text}" marks where the text goes
      (without it the text is appended). Applied to queries (and to texts of symmetric tasks,
      which have no role); documents are encoded as they are unless `instruct_documents`.
    - pooling: "last" = hidden state of the last real token (the EOS), the LLM-embedder
      standard; "mean" = masked mean over real tokens.
    - eos_token: the token whose state "last" pooling reads; None = the tokenizer's eos_token.
      Qwen3-Embedding and gte-Qwen2 pool "<|endoftext|>", which is not Qwen3's chat eos.
    - append_eos: append `eos_token` when the tokenizer does not add it itself.
    - max_length: tokens per text including special tokens and the EOS; longer texts are
      truncated before the EOS, never through it.
    - instructions: per-task instruction overrides, keyed like mteb's prompts: a task name
      ("LAReQA"), a task type ("Retrieval") or a role ("query").
    """

    sources: tuple[str, ...]
    model_revision: str | None = None  # hub commit to load (ignored for a local folder)
    allow_download: bool | None = None  # False: never the hub, even when online
    instruction_template: str = E5_TEMPLATE
    max_length: int = 8192
    pooling: str = "last"
    eos_token: str | None = None
    append_eos: bool = True
    padding_side: str = "left"
    instructions: dict[str, str] = field(default_factory=dict)
    instruct_documents: bool = False
    precision: str | None = None  # None/"auto": bf16 on a GPU that has it, fp16 on other GPUs, fp32 on CPU
    trust_remote_code: bool = False
    attn_implementation: str | None = None  # e.g. "sdpa", "flash_attention_2"; None = transformers' choice
    #: Matryoshka truncation (Qwen3-Embedding supports 32..full); None = full hidden size.
    embed_dim: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.sources, str):
            object.__setattr__(self, "sources", (self.sources,))
        elif isinstance(self.sources, list):
            object.__setattr__(self, "sources", tuple(self.sources))
        problems = validate(self)
        if problems:
            raise ValueError(f"LLM embedder {list(self.sources)!r}: " + "; ".join(problems))

    def as_kwargs(self) -> dict[str, Any]:
        """Plain values for a ModelMeta's loader_kwargs (pydantic deep-copies them)."""
        values = asdict(self)
        values["instructions"] = dict(self.instructions)
        values["sources"] = list(self.sources)
        return values

    @property
    def hub_ids(self) -> list[str]:
        from mteb_xalign.weights import parse_source

        return [arg for kind, arg in map(parse_source, self.sources) if kind == "hf"]

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}


def validate(s: LLMSettings) -> list[str]:
    problems: list[str] = []
    if not s.sources or not all(isinstance(x, str) and x.strip() for x in s.sources):
        problems.append("give the weights' sources: a local folder, a package resource or a hub id")
    else:
        from mteb_xalign.weights import parse_source

        for source in s.sources:
            try:
                parse_source(source)
            except ValueError as exc:
                problems.append(str(exc))
    if not isinstance(s.instruction_template, str) or "{instruction}" not in s.instruction_template:
        problems.append(f"instruction_template {s.instruction_template!r} must contain '{{instruction}}'")
    if not isinstance(s.max_length, int) or isinstance(s.max_length, bool) or s.max_length < 2:
        problems.append(f"max_length must be an integer >= 2, got {s.max_length!r}")
    if s.pooling not in POOLINGS:
        problems.append(f"pooling must be one of {list(POOLINGS)}, got {s.pooling!r}")
    if s.padding_side not in PADDING_SIDES:
        problems.append(f"padding_side must be one of {list(PADDING_SIDES)}, got {s.padding_side!r}")
    if not isinstance(s.instructions, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in s.instructions.items()
    ):
        problems.append("instructions must map task names/types/roles to strings")
    if s.embed_dim is not None and (not isinstance(s.embed_dim, int) or s.embed_dim < 1):
        problems.append(f"embed_dim must be a positive integer, got {s.embed_dim!r}")
    return problems
