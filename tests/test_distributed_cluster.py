"""`--executor ray` past one node: what the README's "More than one machine" promises, tested on a
cluster simulated on this machine, and a driver interrupted by Ctrl-C or SIGTERM.

The cluster is Ray's own `ray.cluster_utils.Cluster`: a head without CPUs (it schedules, as on many
real clusters) and two 1-CPU worker nodes, each with its own embedding cache (XALIGN_CACHE) and
its own temporary folder (TMPDIR) set in the node's environment, and no results folder: the
driver, this process, is the only one that writes results. The driver joins it by address, as
`xalign run --address` does. Oracle: the serial run of ray_fakes (same models, same tasks).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
import ray

import ray_fakes
from ray_fakes import assert_same_results, fake_meta, grid, serial_run

TESTS = Path(__file__).resolve().parent
NODES = ("node-1", "node-2")


# --------------------------------------------------------------------------- a driver interrupted

DRIVER = """
import sys, ray, ray_fakes
ray_fakes.register(ray)
ray_fakes.fake_meta("test-int/done", salt="d")
ray_fakes.fake_meta("test-int/hang", salt="h", hang=True)
from mteb_xalign.cli import main
sys.exit(main(["run", "-t", "SemanticAffinity", "--subsets", "en-de", "-m", "test-int/done", "test-int/hang",
               "--executor", "ray", "--device", "cpu", "--output", sys.argv[1]]))
"""


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_driver_keeps_finished_pairs_and_leaves_no_ray_process(how, tmp_path):
    """Two pairs on an embedded 2-CPU Ray: one finishes, one never does; the driver is interrupted
    by Ctrl-C (SIGINT to its whole process group, as a terminal sends it) or by SIGTERM to it alone
    (`kill`, a batch scheduler). It must write the finished pair, exit 130 and take every process
    Ray started with it."""
    out = tmp_path / "out"
    done = out / "results" / "test-int__done" / "1" / "model_meta.json"  # the last file a pair writes
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "XALIGN_CACHE": str(tmp_path / "driver-cache.sqlite3")}
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(out)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    ray_processes: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 240
        while not done.exists() and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert done.exists(), driver.communicate(timeout=30) if driver.poll() is not None else "no result in 240 s"
        ray_processes = psutil.Process(driver.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in ray_processes)
        assert "raylet" in names and "gcs_server" in names  # what the driver started, to be gone after
        t0 = time.monotonic()
        if how == "ctrl-c":
            os.killpg(driver.pid, signal.SIGINT)
        else:
            driver.send_signal(signal.SIGTERM)
        _, err = driver.communicate(timeout=60)
        stopped_in = time.monotonic() - t0
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    _, alive = psutil.wait_procs(ray_processes, timeout=30)
    for process in alive:  # started by this test's driver: do not leave them to the other tests
        process.kill()
    assert not alive, [" ".join(p.cmdline())[:100] for p in alive]
    assert driver.returncode == 130, err[-2000:]
    assert "xalign: interrupted" in err
    assert "xalign: starting Ray on this machine" in err
    assert stopped_in < 30
    # The finished pair is kept, complete, as a serial run writes it; the other left nothing.
    fake_meta("test-int/done", salt="d")
    serial_run(["test-int/done"], tmp_path / "serial", tasks=("SemanticAffinity",))
    assert_same_results(out / "results" / "test-int__done", tmp_path / "serial" / "results" / "test-int__done")
    assert not (out / "results" / "test-int__hang").exists()


# --------------------------------------------------------------------------- a simulated cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from ray.cluster_utils import Cluster

    root = tmp_path_factory.mktemp("cluster")
    # Health checks every 0.5 s: a killed node is declared dead in ~2 s, not ~30 s.
    head = dict(num_cpus=0, _system_config={"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
                                             "health_check_failure_threshold": 3})
    sim = Cluster(initialize_head=True, head_node_args=head)
    nodes = {}
    try:
        for name in NODES:
            (root / name / "tmp").mkdir(parents=True)
            nodes[name] = sim.add_node(num_cpus=1, env_vars={
                "XALIGN_CACHE": str(root / name / "cache.sqlite3"), "TMPDIR": str(root / name / "tmp"),
                "XALIGN_TEST_NODE": name})
        sim.wait_for_nodes()
        ray_fakes.register(ray)
        yield SimpleNamespace(sim=sim, nodes=nodes, root=root)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        sim.shutdown()


def cached_vectors(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]


def test_pairs_spread_over_nodes_and_results_come_back_to_the_driver_written_once(
        cluster, tmp_path, capsys, monkeypatch, isolated_cache):
    from mteb_xalign.result_store import ResultStore

    log = tmp_path / "nodes.log"
    models = ["test-cluster/a", "test-cluster/b"]
    fake_meta(models[0], salt="a", dim=16, node_log=str(log))
    fake_meta(models[1], salt="b", dim=24, node_log=str(log))
    writes = []
    save = ResultStore.save_to_cache
    monkeypatch.setattr(ResultStore, "save_to_cache", lambda self, result, *a, **k: (
        writes.append(result.task_name), save(self, result, *a, **k))[1])

    grid(models, tmp_path / "ray", address=cluster.sim.address, quiet=False)

    err = capsys.readouterr().err
    assert f"xalign: joining the Ray cluster at {cluster.sim.address}" in err
    assert "Ray ready in" in err and "3 nodes, 2 CPUs, 0 GPUs" in err
    assert "4/4" in err  # one bar over the 2 x 2 pairs
    ran_on = [line.split() for line in log.read_text().splitlines()]
    assert len(ran_on) == 4  # one attempt per pair ...
    assert {node for node, _ in ran_on} == set(NODES)  # ... on both worker nodes, none on the head
    # Each node encoded into its own cache; the driver encoded nothing (its cache was never opened).
    assert all(cached_vectors(cluster.root / node / "cache.sqlite3") > 0 for node in NODES)
    assert not isolated_cache.exists()
    # Results: shipped back and written by the driver, once per pair; nothing left on the nodes.
    assert sorted(writes) == sorted(["SemanticAffinity", "MultiRefCLIR"] * 2)
    assert all(not any((cluster.root / node / "tmp").glob("xalign-pair-*")) for node in NODES)
    for model in models:
        settings = (tmp_path / "ray" / "results" / model.replace("/", "__") / "1" / "run_settings.jsonl").read_text()
        assert [json.loads(row)["task"] for row in settings.splitlines()] == ["SemanticAffinity", "MultiRefCLIR"]
    serial_run(models, tmp_path / "serial")
    assert_same_results(tmp_path / "ray", tmp_path / "serial")


def test_a_node_killed_mid_pair_has_its_pair_rerun_on_the_other_node(cluster, tmp_path):
    """Last in this module: it removes node-2 for good."""
    started, log = tmp_path / "node-2-started", tmp_path / "nodes.log"
    model = "test-cluster/kill"
    # On node-2 a pair announces itself and hangs until the node dies; elsewhere it waits for that
    # announcement, so both nodes hold a pair when the kill comes.
    fake_meta(model, salt="k", dim=16, node_log=str(log), hang_on_node="node-2", signal_file=str(started),
              wait_for=str(started))
    started.touch()  # the serial oracle neither waits nor hangs (no XALIGN_TEST_NODE here)
    serial_run([model], tmp_path / "serial")
    started.unlink()
    log.unlink()

    def kill_node_2():
        deadline = time.monotonic() + 240
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if started.exists():
            cluster.sim.remove_node(cluster.nodes["node-2"], allow_graceful=False)

    killer = threading.Thread(target=kill_node_2)
    killer.start()
    try:
        grid([model], tmp_path / "ray", address=cluster.sim.address, max_retries=2)
    finally:
        killer.join()

    assert started.exists()  # node-2 did hold a pair when it was killed ...
    ran_on = sorted(tuple(line.split()) for line in log.read_text().splitlines())
    killed_task = next(task for node, task in ran_on if node == "node-2")
    assert ("node-1", killed_task) in ran_on  # ... and that pair ran again on node-1
    assert len(ran_on) == 3  # 2 pairs, 3 attempts
    assert_same_results(tmp_path / "ray", tmp_path / "serial")  # complete, equal to the serial run
    settings = (tmp_path / "ray" / "results" / "test-cluster__kill" / "1" / "run_settings.jsonl").read_text()
    assert len(settings.splitlines()) == 2  # one row per task, none doubled by the retry
