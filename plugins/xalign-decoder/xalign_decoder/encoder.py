"""The LLM-embedder adapter: a decoder LLM through `transformers`, one vector per text.

Queries get the task instruction ("Instruct: ...\\nQuery: text"), documents do not; every
text ends with the EOS whose final hidden state is the embedding. Batches are padded on
the configured side and pooled from the attention mask, so a text's vector does not
depend on what it was batched with.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mteb.models.abs_encoder import PromptSource
from mteb.types import PromptType

from mteb_xalign import weights
from mteb_xalign.device import resolve_device, resolve_dtype
from mteb_xalign.adapter import TextEncoder
from xalign_decoder.instructions import (
    FALLBACK_INSTRUCTION,
    declared_instruction,
    format_query,
    prefix_of,
    task_prompt,
)
from xalign_decoder.pooling import POOLERS
from xalign_decoder.settings import LLMSettings
from xalign_decoder.tokens import encode_batch, eos_id_of, tokenizer_appends


class LLMEmbedder(TextEncoder):
    """mteb encoder for a decoder LLM embedder; `settings` keywords as in `LLMSettings`."""

    # For mteb's get_instruction, which ours falls back to once the configured instruction,
    # the task's prompt and our defaults have all come up empty: task type, then role.
    prompt_priority = (
        PromptSource.CUSTOM_PROMPT,
        PromptSource.DEFAULT_TASK_PROMPT,
        PromptSource.TASK_TYPE_PROMPT,
        PromptSource.ENCODE_TYPE_PROMPT,
    )

    def __init__(self, model_name: str, revision: str | None = None, device: str | int | None = None,
                 path: str | None = None, **settings: Any):
        """`path` is short for `sources=[path]`; mteb passes the meta's revision, which for
        hub models is the pinned commit and for local models a fingerprint (not a commit)."""
        unknown = set(settings) - LLMSettings.field_names()
        if unknown:
            raise TypeError(
                f"LLM embedder {model_name!r}: unknown setting(s) {sorted(unknown)}; "
                f"known: {sorted(LLMSettings.field_names())}"
            )
        if path is not None:
            settings["sources"] = [f"path:{path}"]
        settings.setdefault("sources", [model_name])
        self.settings = LLMSettings(**settings)
        super().__init__(model_name, revision=revision, device=resolve_device(device))
        self.prompts_dict = dict(self.settings.instructions) or None
        self.dtype = resolve_dtype(self.device, self.settings.precision)
        self.tokenizer, self.model = self._load()
        self.eos_id = eos_id_of(self.tokenizer, self.settings.eos_token)
        self.tokenizer_adds_eos = tokenizer_appends(self.tokenizer, self.eos_id)
        # Models whose forward takes no position_ids (rare) count positions themselves.
        self._takes_positions = "position_ids" in inspect.signature(self.model.forward).parameters

    def _load(self):
        from transformers import AutoModel, AutoTokenizer

        s = self.settings
        # Local copies (a folder, XALIGN_WEIGHTS_DIR, the HF cache at the pinned revision)
        # before the hub; a local copy has no revision to ask for.
        self.weights = weights.resolve(list(s.sources), revision=s.model_revision, what=self.model_name,
                                       allow_download=s.allow_download)
        location = self.weights.location
        revision = None if self.weights.is_local else s.model_revision
        common: dict[str, Any] = {"revision": revision, "trust_remote_code": s.trust_remote_code,
                                  "local_files_only": self.weights.is_local}
        model_kwargs: dict[str, Any] = {"dtype": self.dtype}
        if s.attn_implementation:
            model_kwargs["attn_implementation"] = s.attn_implementation
        try:
            tokenizer = AutoTokenizer.from_pretrained(location, **common)
            model = AutoModel.from_pretrained(location, **common, **model_kwargs)
        except OSError as exc:
            raise OSError(
                f"could not load LLM embedder {self.model_name!r} from {self.weights.source}"
                f"{f' (revision {revision})' if revision else ''}: {exc}"
            ) from exc
        return tokenizer, model.to(self.device).eval()

    # -- instructions -------------------------------------------------------------------

    def get_instruction(self, task_metadata: Any, prompt_type: PromptType | None) -> str:
        """Configured instruction for the task, else the task's prompt, else our default for
        our tasks, else mteb's generic ones (task type, role, the task kind's prompt)."""
        name = task_metadata.name
        if self.prompts_dict and name in self.prompts_dict:
            return self.prompts_dict[name]
        own = task_prompt(task_metadata, prompt_type)
        if own:
            return own
        declared = declared_instruction(name)
        if declared:
            return declared
        instruction = super().get_instruction(task_metadata, prompt_type)
        if isinstance(instruction, dict):  # a per-role prompt asked for without a role
            instruction = instruction.get("query") or next(iter(instruction.values()), "")
        return instruction or FALLBACK_INSTRUCTION

    def instruction_for(self, task_metadata: Any, prompt_type: PromptType | None) -> str:
        """The instruction this role gets ("" for documents): queries and role-less texts
        (symmetric tasks) are instructed, as in the models' own evaluation code."""
        if prompt_type == PromptType.document and not self.settings.instruct_documents:
            return ""
        return self.get_instruction(task_metadata, prompt_type)

    def cache_context(self, task_metadata: Any, prompt_type: PromptType | None) -> str:
        """The filled-in template for instructed texts, so each instruction has its own
        cached vectors; "" for documents, whose vectors every task can share."""
        instruction = self.instruction_for(task_metadata, prompt_type)
        return prefix_of(self.settings.instruction_template, instruction) if instruction else ""

    # -- encoding -----------------------------------------------------------------------

    def model_inputs(self, texts: list[str], *, instruction: str = ""):
        """The token batch for these texts (instruction applied), as the model will see it."""
        s = self.settings
        if instruction:
            texts = [format_query(s.instruction_template, instruction, text) for text in texts]
        return encode_batch(
            self.tokenizer, texts, max_length=s.max_length, eos_id=self.eos_id, append_eos=s.append_eos,
            padding_side=s.padding_side, tokenizer_adds_eos=self.tokenizer_adds_eos,
        )

    def embed(self, texts: list[str], *, prompt_type: PromptType | None, task_metadata: Any = None,
              languages: Sequence[str] | None = None) -> np.ndarray:
        """One MTEB batch: queries (and role-less texts) get the task's instruction, documents none;
        without a task there is no instruction to give."""
        instruction = self.instruction_for(task_metadata, prompt_type) if task_metadata is not None else ""
        return self.pooled(texts, instruction=instruction)

    def pooled(self, texts: list[str], *, instruction: str = "") -> np.ndarray:
        """Raw (unnormalised) float32 embeddings of one batch, `instruction` applied as the model's template."""
        if not texts:
            return np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
        batch = self.model_inputs(texts, instruction=instruction)
        inputs = {"input_ids": batch.input_ids.to(self.device),
                  "attention_mask": batch.attention_mask.to(self.device)}
        if self._takes_positions:
            inputs["position_ids"] = batch.position_ids.to(self.device)
        with torch.inference_mode():
            hidden = self.model(**inputs).last_hidden_state
            pooled = POOLERS[self.settings.pooling](hidden, inputs["attention_mask"])
        if self.settings.embed_dim is not None:
            pooled = pooled[:, : self.settings.embed_dim]  # Matryoshka: keep the leading dims
        return pooled.float().cpu().numpy()

