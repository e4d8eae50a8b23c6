"""`--executor ray`: the model x task grid on a local 2-CPU Ray cluster started by this module.

Oracles: the serial run (mteb.evaluate in this process, as `xalign run` does locally) on the
same models and tasks; results must match it key for key, apart from timing fields.
The models are deterministic hash encoders defined here (Ray pickles this module by value,
so workers need not import it).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import ray
from mteb.models import ModelMeta

from mteb_xalign.adapter import TextEncoder
from xalign_testing import local_ray

TIMING_KEYS = {"evaluation_time", "evaluation_phases", "date", "kg_co2_emissions"}
TASKS = {"SemanticAffinity": ["en-de"], "MultiRefCLIR": ["multi_en+de_q-en", "multi_en+de_q-de"]}


class HashEncoder(TextEncoder):
    """Vector = f(salt, role, text) only: the same on every worker, in every batch."""

    def __init__(self, model_name, revision=None, device=None, salt="a", dim=16, crash_token=None,
                 attempts_log=None, workers_log=None, **kwargs):
        super().__init__(model_name, revision, device)
        self.salt, self.dim = salt, dim
        self.calls: dict[str, int] = {}  # per task: Ray may run two pairs in one worker, one instance
        self.crash_token, self.attempts_log, self.workers_log = crash_token, attempts_log, workers_log

    def embed(self, texts, *, prompt_type, task_metadata=None, **kwargs):
        task = task_metadata.name if task_metadata is not None else ""
        self.calls[task] = calls = self.calls.get(task, 0) + 1
        if self.workers_log and calls == 1:  # the encoding workers `auto` would start here
            from mteb_xalign import encode_workers

            with open(self.workers_log, "a") as f:
                f.write(f"{encode_workers.requested_workers({})}\n")
        if self.attempts_log and calls == 1:  # one line per attempt at a pair
            with open(self.attempts_log, "a") as f:
                f.write(f"{os.getpid()}\n")
        if self.crash_token and calls == 2:
            try:  # the one process that creates the token dies mid-task, as a killed worker does
                os.close(os.open(self.crash_token, os.O_CREAT | os.O_EXCL))
                os._exit(1)
            except FileExistsError:
                pass
        role = prompt_type.value if prompt_type is not None else "none"
        return np.stack([hash_vector(f"{self.salt}|{role}|{t}", self.dim) for t in texts])


def hash_vector(text: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def load_hash_encoder(model_name, revision=None, **kwargs):
    return HashEncoder(model_name, revision, **kwargs)


def fake_meta(name: str, **loader_kwargs) -> ModelMeta:
    meta = ModelMeta(
        loader=load_hash_encoder, loader_kwargs=loader_kwargs, name=name, revision="1", release_date=None,
        languages=None, n_parameters=None, memory_usage_mb=None, max_tokens=None,
        embed_dim=loader_kwargs.get("dim", 16), license=None, open_weights=True, public_training_code=None,
        public_training_data=None, framework=["NumPy"], similarity_fn_name="cosine", use_instructions=False,
        training_datasets=None,
    )
    try:
        from mteb_xalign.mteb_compat import add_model
    except ImportError:  # before mteb_compat landed
        from mteb.models.model_implementations import MODEL_REGISTRY

        MODEL_REGISTRY[name] = meta
    else:
        add_model(meta)
    return meta


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """One local Ray for the module (startup costs ~10 s); workers get their own cache file."""
    yield from local_ray(tmp_path_factory.mktemp("ray-cache") / "embeddings.sqlite3", [sys.modules[__name__]])


def make_tasks(names=tuple(TASKS)):
    from mteb_xalign import mteb_bridge

    mteb_bridge.ensure_registered()
    import mteb

    tasks = []
    for name in names:
        subsets = TASKS[name]
        task = mteb.get_task(name)
        task.hf_subsets = subsets
        tasks.append(task)
    return tasks


OPTIONS = dict(device="cpu", quiet=True)


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
    if path.suffix != ".json" or path.name == "model_meta.json":
        return path.read_text()
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if k not in TIMING_KEYS}


def assert_same_results(ray_output: Path, serial_output: Path) -> None:
    got, want = result_files(ray_output), result_files(serial_output)
    assert sorted(got) == sorted(want)
    for rel in want:
        assert without_timing(got[rel]) == without_timing(want[rel]), rel


def test_grid_matches_serial_run_and_skips_finished_pairs(ray_cluster, tmp_path, capsys):
    models = ["test-ray/hash-a", "test-ray/hash-b"]
    fake_meta(models[0], salt="a", dim=16)
    fake_meta(models[1], salt="b", dim=24)
    serial_run(models, tmp_path / "serial")

    results = grid(models, tmp_path / "ray", quiet=False)
    assert sorted((m, r.task_name) for m, r in results) == sorted(
        (m, t) for m in models for t in TASKS)
    assert_same_results(tmp_path / "ray", tmp_path / "serial")
    assert "4/4" in capsys.readouterr().err  # one progress bar over the pairs, in the driver

    # Rerun: every pair is finished, nothing is submitted and no file changes.
    before = {rel: p.read_bytes() for rel, p in result_files(tmp_path / "ray").items()}
    again = grid(models, tmp_path / "ray")
    assert len(again) == 4
    assert {rel: p.read_bytes() for rel, p in result_files(tmp_path / "ray").items()} == before


def test_encoding_workers_keep_to_the_cpus_ray_granted_the_pair(ray_cluster, tmp_path):
    """Two 1-CPU pairs on a 2-CPU node: each may start one encoding worker, not one per core."""
    log = tmp_path / "workers.log"
    fake_meta("test-ray/hash-workers", salt="w", workers_log=str(log))
    grid(["test-ray/hash-workers"], tmp_path / "ray", cpus_per_model=1)
    assert log.read_text().split() == ["1", "1"]
    log.unlink()
    fake_meta("test-ray/hash-workers-2", salt="w2", workers_log=str(log))  # new vectors: not in the cache
    grid(["test-ray/hash-workers-2"], tmp_path / "ray2", cpus_per_model=2)
    assert log.read_text().split() == ["2", "2"]


def test_worker_killed_mid_task_is_retried_nothing_lost_or_doubled(ray_cluster, tmp_path):
    token, log = tmp_path / "crash-token", tmp_path / "attempts.log"
    models = ["test-ray/crash-once"]
    fake_meta(models[0], salt="c", dim=16, crash_token=str(token), attempts_log=str(log))
    token.touch()  # the serial oracle must not crash
    serial_run(models, tmp_path / "serial")
    token.unlink()
    log.unlink()

    grid(models, tmp_path / "ray", max_retries=2)

    assert token.exists()  # a worker did die mid-task ...
    attempts = log.read_text().split()
    assert len(attempts) == 3  # ... and its pair ran once more: 2 pairs, 3 attempts
    assert_same_results(tmp_path / "ray", tmp_path / "serial")
    settings = (tmp_path / "ray" / "results" / "test-ray__crash-once" / "1" / "run_settings.jsonl").read_text()
    assert len(settings.splitlines()) == 2  # one entry per task, none doubled by the retry


def test_an_evaluation_error_names_the_pair_and_the_rest_finish(ray_cluster, tmp_path):
    from mteb_xalign.errors import UserError

    fake_meta("test-ray/hash-a", salt="a", dim=16)
    fake_meta("test-ray/broken", salt="a", dim=16, crash_token=None, attempts_log="/nonexistent/dir/log")
    with pytest.raises(UserError, match=r"2 of 4 pairs failed: test-ray/broken x .*FileNotFoundError"):
        grid(["test-ray/broken", "test-ray/hash-a"], tmp_path)
    assert sorted(p.name for p in (tmp_path / "results" / "test-ray__hash-a" / "1").glob("*.json")) == [
        "MultiRefCLIR.json", "SemanticAffinity.json", "model_meta.json"]
    assert not (tmp_path / "results" / "test-ray__broken" / "1" / "MultiRefCLIR.json").exists()


def test_executor_ray_without_ray_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    from mteb_xalign.cli import main

    fake_meta("test-ray/hash-a", salt="a", dim=16)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails, as if it were not installed
    rc = main(["run", "-t", "SemanticAffinity", "-m", "test-ray/hash-a", "--executor", "ray",
               "--output", str(tmp_path)])
    assert rc == 1  # a refusal, not a usage error
    assert capsys.readouterr().err.strip().splitlines() == [
        "xalign: error: --executor ray needs Ray, which is not installed: pip install 'mteb-xalign[ray]'"]
    assert not (tmp_path / "results").exists()


def test_xalign_run_executor_ray_writes_what_a_local_run_writes(ray_cluster, tmp_path, capsys):
    from mteb_xalign.cli import main

    fake_meta("test-ray/hash-a", salt="a", dim=16)
    common = ["run", "-t", "SemanticAffinity", "--subsets", "en-de", "-m", "test-ray/hash-a", "--device", "cpu", "-q"]
    assert main([*common, "--output", str(tmp_path / "local")]) == 0
    local_out = capsys.readouterr().out
    assert main([*common, "--executor", "ray", "--output", str(tmp_path / "ray")]) == 0
    assert capsys.readouterr().out == local_out  # the same summary lines
    assert_same_results(tmp_path / "ray", tmp_path / "local")


def test_a_partial_result_is_completed_as_a_local_run_completes_it(ray_cluster, tmp_path):
    from mteb_xalign.distributed.grid import run_grid
    from mteb_xalign.evaluation import RunOptions, evaluate_pair

    fake_meta("test-ray/hash-a", salt="a", dim=16)

    def affinity(subsets):
        task = make_tasks(["SemanticAffinity"])[0]
        task.hf_subsets = subsets
        return task

    for subsets in (["en-de"], ["en-de", "en-es"]):  # the second run adds a subset to a stored result
        evaluate_pair("test-ray/hash-a", [affinity(subsets)], tmp_path / "serial", RunOptions(**OPTIONS))
        run_grid(["test-ray/hash-a"], [affinity(subsets)], RunOptions(**OPTIONS), output=tmp_path / "ray")
    assert_same_results(tmp_path / "ray", tmp_path / "serial")
    stored = json.loads((tmp_path / "ray" / "results" / "test-ray__hash-a" / "1" / "SemanticAffinity.json").read_text())
    assert sorted(s["hf_subset"] for s in stored["scores"]["test"]) == ["en-de", "en-es"]


def test_gpus_per_pair_come_from_the_flag_else_the_models_framework():
    from types import SimpleNamespace

    from mteb_xalign.distributed.grid import gpus_for

    torch_model, onnx_model = SimpleNamespace(framework=["PyTorch"]), SimpleNamespace(framework=["ONNX"])
    assert gpus_for(torch_model, None, gpus_in_cluster=8, device=None) == 1
    assert gpus_for(onnx_model, None, gpus_in_cluster=8, device=None) == 0  # C engines run on CPUs
    assert gpus_for(torch_model, None, gpus_in_cluster=0, device=None) == 0  # a CPU-only cluster
    assert gpus_for(torch_model, None, gpus_in_cluster=8, device="cpu") == 0
    assert gpus_for(onnx_model, 0.5, gpus_in_cluster=8, device=None) == 0.5  # the flag wins


def test_ray_options_without_the_ray_executor_are_refused(tmp_path, capsys):
    from mteb_xalign.cli import main

    fake_meta("test-ray/hash-a", salt="a", dim=16)
    rc = main(["run", "-t", "SemanticAffinity", "-m", "test-ray/hash-a", "--address", "10.0.0.1:6379",
               "--output", str(tmp_path)])
    assert rc == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "xalign: error: --address, --gpus-per-model and --cpus-per-model need --executor ray"]
    rc = main(["run", "-t", "SemanticAffinity", "-m", "test-ray/hash-a", "--cpus-per-model", "2",
               "--output", str(tmp_path)])
    assert rc == 2 and "--cpus-per-model need --executor ray" in capsys.readouterr().err
    rc = main(["run", "-t", "SemanticAffinity", "-m", "test-ray/hash-a", "--executor", "ray",
               "--cpus-per-model", "0", "--output", str(tmp_path)])
    assert rc == 2
    assert "--cpus-per-model 0: use a number of CPUs above 0" in capsys.readouterr().err
