"""Which instruction a query gets, and how it is put around the text.

Order (first non-empty wins): the model's configured instruction for the task name; the
task's own prompt (`TaskMetadata.prompt`); the task's declared `default_instruction` (our
tasks declare one each, in their own file: task_rules.TaskRules; mteb's declare none); then
mteb's generic ones (task type, role, the task kind's `abstask_prompt`). The written-out
instructions follow the models' papers: one sentence saying what a query is and what to
retrieve, phrased the way Qwen3-Embedding and e5-mistral were trained.
"""

from __future__ import annotations

from typing import Any

from mteb_xalign import mteb_bridge

#: Last resort if nothing names an instruction (mteb's wording for symmetric similarity).
FALLBACK_INSTRUCTION = "Retrieve semantically similar text."


def format_query(template: str, instruction: str, text: str) -> str:
    """Put `text` into the template; plain replace, so braces in either are kept as they are."""
    filled = template.replace("{instruction}", instruction)
    if "{text}" in filled:
        before, _, after = filled.partition("{text}")
        return before + text + after
    return filled + text


def prefix_of(template: str, instruction: str) -> str:
    """The template with the instruction filled in and the text left as a marker (a cache key)."""
    filled = template.replace("{instruction}", instruction)
    return filled if "{text}" in filled else filled + "{text}"


def declared_instruction(task_name: str) -> str:
    """The `default_instruction` the registered task `task_name` declares ("" if none, or not ours)."""
    return getattr(mteb_bridge.task_class(task_name), "default_instruction", None) or ""


def task_prompt(task_metadata: Any, prompt_type: Any) -> str:
    """The task's own prompt for this role ("" if it has none)."""
    prompt = getattr(task_metadata, "prompt", None)
    if isinstance(prompt, dict):
        role = prompt_type.value if prompt_type is not None else "query"
        prompt = prompt.get(role)
    return prompt or ""
