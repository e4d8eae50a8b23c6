"""Test doubles and oracles for `--executor ray` (tests/test_distributed_*.py).

The models are deterministic hash encoders: a vector is f(salt, role, text) only, the same on
every worker and node, in every batch. Ray pickles this module by value (`register`), so
workers and nodes need not import it. Behaviours for fault tests are loader arguments, so
they travel with the model's meta to whichever worker loads it:
  crash_token   the one process that creates this file dies mid-pair (os._exit), as a killed worker does
  attempts_log  one line (the pid) per attempt at a pair
  workers_log   the encoding workers `auto` would start, per attempt
  node_log      "NODE TASK" per attempt, NODE being the node's XALIGN_TEST_NODE
  hang_on_node  on that node, create `signal_file` and wait forever (until the node is killed)
  wait_for      wait (up to a minute) until this file exists before encoding
  hang          wait forever (a pair still running when the driver is interrupted)

Oracle: the serial run (evaluation.evaluate_pair in this process, as `xalign run` does locally) on
the same models and tasks; results must match it file for file, apart from timing fields.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from mteb.models import ModelMeta

from mteb_xalign.adapter import TextEncoder

TIMING_KEYS = {"evaluation_time", "evaluation_phases", "date", "kg_co2_emissions"}
TASKS = {"SemanticAffinity": ["en-de"], "MultiRefCLIR": ["multi_en+de_q-en", "multi_en+de_q-de"]}
OPTIONS = dict(device="cpu", quiet=True)


class HashEncoder(TextEncoder):
    def __init__(self, model_name, revision=None, device=None, salt="a", dim=16, crash_token=None,
                 attempts_log=None, workers_log=None, node_log=None, hang_on_node=None, signal_file=None,
                 wait_for=None, hang=False, **kwargs):
        super().__init__(model_name, revision, device)
        self.salt, self.dim = salt, dim
        self.calls: dict[str, int] = {}  # per task: Ray may run two pairs in one worker, one instance
        self.crash_token, self.attempts_log, self.workers_log = crash_token, attempts_log, workers_log
        self.node_log, self.hang_on_node, self.signal_file = node_log, hang_on_node, signal_file
        self.wait_for, self.hang = wait_for, hang

    def embed(self, texts, *, prompt_type, task_metadata=None, **kwargs):
        task = task_metadata.name if task_metadata is not None else ""
        self.calls[task] = calls = self.calls.get(task, 0) + 1
        if calls == 1:
            self._first_call(task)
        if self.crash_token and calls == 2:
            try:  # the one process that creates the token dies mid-task, as a killed worker does
                os.close(os.open(self.crash_token, os.O_CREAT | os.O_EXCL))
                os._exit(1)
            except FileExistsError:
                pass
        role = prompt_type.value if prompt_type is not None else "none"
        return np.stack([hash_vector(f"{self.salt}|{role}|{t}", self.dim) for t in texts])

    def _first_call(self, task: str) -> None:
        node = os.environ.get("XALIGN_TEST_NODE", "")
        if self.workers_log:  # the encoding workers `auto` would start here
            from mteb_xalign import encode_workers

            _append(self.workers_log, f"{encode_workers.requested_workers({})}")
        if self.attempts_log:
            _append(self.attempts_log, f"{os.getpid()}")
        if self.node_log:
            _append(self.node_log, f"{node} {task}")
        if self.hang_on_node and node == self.hang_on_node:
            Path(self.signal_file).write_text(f"{os.getpid()}\n")
            _forever()
        if self.wait_for:
            deadline = time.monotonic() + 60
            while not os.path.exists(self.wait_for) and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.hang:
            _forever()


def _append(path: str, line: str) -> None:
    with open(path, "a") as f:
        f.write(line + "\n")


def _forever() -> None:
    while True:
        time.sleep(1)


def hash_vector(text: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def load_hash_encoder(model_name, revision=None, **kwargs):
    return HashEncoder(model_name, revision, **kwargs)


def fake_meta(name: str, **loader_kwargs) -> ModelMeta:
    """Register (or re-register) a hash model under `name` in this process's mteb registry."""
    from mteb_xalign.mteb_compat import add_model

    meta = ModelMeta(
        loader=load_hash_encoder, loader_kwargs=loader_kwargs, name=name, revision="1", release_date=None,
        languages=None, n_parameters=None, memory_usage_mb=None, max_tokens=None,
        embed_dim=loader_kwargs.get("dim", 16), license=None, open_weights=True, public_training_code=None,
        public_training_data=None, framework=["NumPy"], similarity_fn_name="cosine", use_instructions=False,
        training_datasets=None,
    )
    add_model(meta)
    return meta


def register(ray) -> None:
    """Let Ray pickle this module by value: workers and nodes need not import it."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def make_tasks(names=tuple(TASKS)):
    from mteb_xalign import mteb_bridge

    mteb_bridge.ensure_registered()
    import mteb

    tasks = []
    for name in names:
        task = mteb.get_task(name)
        task.hf_subsets = TASKS[name]
        tasks.append(task)
    return tasks


def serial_run(model_names, output: Path, tasks=tuple(TASKS)) -> None:
    """What `xalign run` does without --executor: each model on the tasks, in this process."""
    from mteb_xalign.evaluation import RunOptions, evaluate_pair

    for name in model_names:
        evaluate_pair(name, make_tasks(tasks), output, RunOptions(**OPTIONS))


def grid(model_names, output: Path, tasks=tuple(TASKS), **kwargs):
    from mteb_xalign.distributed.grid import run_grid
    from mteb_xalign.evaluation import RunOptions

    options = RunOptions(**{**OPTIONS, "quiet": kwargs.pop("quiet", True)})
    return run_grid(model_names, make_tasks(tasks), options, output=output, **kwargs)


def result_files(output: Path) -> dict[str, Path]:
    return {str(p.relative_to(output)): p for p in sorted(output.rglob("*")) if p.is_file()}


def without_timing(path: Path):
    if path.name == "run_settings.jsonl":  # each row's sha256 is the digest of a file with timing fields:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        for row in rows:  # check it against the file as written, then compare the rest
            assert row.pop("sha256") == hashlib.sha256((path.parent / f"{row['task']}.json").read_bytes()).hexdigest()
        return rows
    if path.name.endswith(".per_query.npz"):  # a zip (with its own timestamps): compare what it holds
        from mteb_xalign import per_query

        result = path.with_name(path.name.removesuffix(".per_query.npz") + ".json")
        return per_query.load_header(result), {key: (out.ids, out.clusters, {k: v.tobytes() for k, v in out.values.items()})
                                               for key, out in per_query.load(result).items()}
    if path.suffix != ".json" or path.name == "model_meta.json":
        return path.read_text()
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if k not in TIMING_KEYS}


def assert_same_results(ray_output: Path, serial_output: Path) -> None:
    got, want = result_files(ray_output), result_files(serial_output)
    assert sorted(got) == sorted(want), (sorted(got), sorted(want))
    for rel in want:
        assert without_timing(got[rel]) == without_timing(want[rel]), rel
