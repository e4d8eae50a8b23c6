"""`--executor ray`: the model x task grid on a local 2-CPU Ray cluster started by this module.

Oracles: the serial run (evaluation.evaluate_pair in this process, as `xalign run` does locally) on
the same models and tasks; results must match it key for key, apart from timing fields.
The models are the hash encoders of ray_fakes.py (pickled by value: workers need not import it).
Several nodes: test_distributed_cluster.py.
"""

from __future__ import annotations

import json
import re
import sys

import pytest

import ray_fakes
from ray_fakes import TASKS, OPTIONS, assert_same_results, fake_meta, grid, make_tasks, result_files, serial_run
from xalign_testing import local_ray


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """One local Ray for the module (startup costs ~10 s); workers get their own cache file."""
    yield from local_ray(tmp_path_factory.mktemp("ray-cache") / "embeddings.sqlite3", [ray_fakes])


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


# --------------------------------------------------------------------------- --address: fail fast, one line


def _run_with_address(address, tmp_path, capfd):
    """`xalign run --executor ray --address ADDRESS`: (exit code, stderr lines, seconds it took)."""
    import time

    from mteb_xalign.cli import main

    fake_meta("test-ray/hash-a", salt="a", dim=16)
    capfd.readouterr()
    t0 = time.monotonic()
    rc = main(["run", "-t", "SemanticAffinity", "-m", "test-ray/hash-a", "--executor", "ray",
               "--address", address, "--output", str(tmp_path)])
    seconds = time.monotonic() - t0
    return rc, capfd.readouterr().err.strip().splitlines(), seconds


@pytest.mark.parametrize("address, says", [
    ("127.0.0.1:1", "nothing listens on port 1 of 127.0.0.1 (connection refused)"),  # was: a 5-minute hang
    ("headnode", "no port"),
    ("127.0.0.1:99999", "the port is not a number from 1 to 65535"),
    ("127.0.0.1:six", "the port is not a number from 1 to 65535"),
    ("127.0.0.1:0", "the port is not a number from 1 to 65535"),
    (":6379", "not an address Ray can join"),
    ("http://127.0.0.1:6379", "'http://' is not a Ray address"),
    ("head node:6379", "not an address Ray can join"),
    ("host.invalid:6379", "unknown host 'host.invalid'"),
])
def test_an_address_without_a_ray_cluster_fails_at_once_in_one_line(address, says, tmp_path, capfd):
    import time

    from mteb_xalign.distributed.cluster import check_address
    from mteb_xalign.errors import UserError

    rc, err, seconds = _run_with_address(address, tmp_path, capfd)
    assert rc == 1 and seconds < 30  # the whole command, mteb's start included, on a loaded machine
    assert len(err) == 1 and err[0].startswith(f"xalign: error: --address {address}: {says}"), err
    assert not (tmp_path / "results").exists()
    t0 = time.monotonic()
    with pytest.raises(UserError):
        check_address(address)
    assert time.monotonic() - t0 < 3  # the check itself


def test_an_address_where_something_else_answers_is_refused_within_the_probe_timeout(tmp_path, capfd, monkeypatch):
    """A port that accepts and stays silent, an HTTP/1 server, and an HTTP/2 server that is not Ray
    (Ray itself would retry each of them for minutes, or end the process)."""
    import http.server
    import socket
    import threading

    from mteb_xalign.distributed import cluster

    monkeypatch.setattr(cluster, "PROBE_TIMEOUT_S", 2.0)
    silent = socket.create_server(("127.0.0.1", 0))
    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # the server's own log would be on the same stderr
            pass

    http1 = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    http2 = socket.create_server(("127.0.0.1", 0))

    def not_ray_http2():  # greets as HTTP/2 does, then says goodbye to every call
        while True:
            try:
                conn, _ = http2.accept()
            except OSError:  # the test closed the socket
                return
            conn.recv(1024)
            conn.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # SETTINGS
            conn.sendall(b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" + bytes(4) + b"\x00\x00\x00\x01")  # GOAWAY
            conn.close()

    threading.Thread(target=http1.serve_forever, daemon=True).start()
    threading.Thread(target=not_ray_http2, daemon=True).start()
    try:
        for server, says in ((silent, "no answer from port"), (http1.socket, "but not a Ray cluster (no gRPC greeting)"),
                             (http2, "but not a Ray cluster (its GCS gave no cluster id within 2 s)")):
            address = f"127.0.0.1:{server.getsockname()[1]}"
            rc, err, seconds = _run_with_address(address, tmp_path, capfd)
            assert rc == 1 and seconds < 30, (address, seconds)
            assert len(err) == 1 and err[0].startswith(f"xalign: error: --address {address}: "), err
            assert says in err[0]
    finally:
        http1.shutdown()
        silent.close()
        http2.close()


def test_address_auto_names_what_it_found(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # where `auto` looks first
    rc, err, _ = _run_with_address("auto", tmp_path, capfd)
    assert rc == 1 and len(err) == 1
    # Ray's lookup turns a local host into this machine's address
    assert re.match(r"xalign: error: --address auto \(\S+:1\): nothing listens on port 1 ", err[0]), err


def test_cpus_per_pair_share_the_cluster_within_one_node():
    from types import SimpleNamespace

    from mteb_xalign.distributed.grid import cpus_per_pair

    def cluster(*cpus, dead=()):
        nodes = [{"Alive": True, "Resources": {"CPU": c}} for c in cpus]
        nodes += [{"Alive": False, "Resources": {"CPU": c}} for c in dead]
        return SimpleNamespace(nodes=lambda: nodes)

    assert cpus_per_pair(cluster(2), 1) == 2  # one pair on a 2-CPU machine encodes on both CPUs
    assert cpus_per_pair(cluster(2), 2) == 1
    assert cpus_per_pair(cluster(2), 5) == 1  # at least one
    assert cpus_per_pair(cluster(4, 4), 1) == 4  # never more than one node holds
    assert cpus_per_pair(cluster(8, 8), 3) == 5
    assert cpus_per_pair(cluster(0, 1, dead=(64,)), 1) == 1  # a head without CPUs; dead nodes do not count
