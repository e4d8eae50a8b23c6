"""Progress while encoding: texts to encode vs found in the cache, rate and ETA (tqdm) on a
terminal; nothing when stderr is not a terminal or when quiet."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import textwrap

import numpy as np
import pytest
from mteb.types import PromptType

from mteb_xalign import progress

RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from test_encoding import Scripted, TASK
    from mteb_xalign.encoding import embed_texts
    from mteb.types import PromptType
    texts = [f"text {i}" for i in range(700)]
    embed_texts(Scripted(), texts[:200], prompt_type=PromptType.query, task_metadata=TASK)
    embed_texts(Scripted(), texts, prompt_type=PromptType.query, task_metadata=TASK)
    if len(sys.argv) > 2:
        from mteb_xalign import progress
        progress.set_quiet()
        embed_texts(Scripted(), ["after set_quiet"], prompt_type=PromptType.query, task_metadata=TASK)
""")


def _run_in_terminal(tmp_path, *extra, env=None, size=(24, 120)) -> str:
    """Run RUN with stderr on a pseudo-terminal of `size` (rows, columns); returns what it showed."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    proc = subprocess.Popen([sys.executable, "-c", RUN, os.path.dirname(__file__), *extra], cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower,
                            env={**os.environ, "XALIGN_CACHE": str(tmp_path / "c.sqlite3"), **(env or {})})
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=300) == 0, b"".join(chunks).decode(errors="replace")[-2000:]
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("size", [(24, 120), (0, 0)])  # (0, 0): a terminal that reports no size
def test_terminal_shows_cache_hits_rate_and_eta(tmp_path, size):
    shown = _run_in_terminal(tmp_path, "quiet-later", size=size)
    assert "test/scripted: " in shown and "MockRetrievalTask: 200 query texts to encode, 0 found in the cache" in shown
    assert "MockRetrievalTask: 500 query texts to encode, 200 found in the cache" in shown
    assert "700/700" not in shown and "500/500" in shown and "text/s" in shown and "<" in shown  # tqdm rate, ETA
    assert "after set_quiet" not in shown and shown.count("to encode") == 2


@pytest.mark.parametrize("env", [{"XALIGN_QUIET": "1"}])
def test_quiet_setting_silences_a_terminal(tmp_path, env):
    assert "to encode" not in _run_in_terminal(tmp_path, env=env)


def test_no_terminal_no_progress(tmp_path):
    proc = subprocess.run([sys.executable, "-c", RUN, os.path.dirname(__file__)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "XALIGN_CACHE": str(tmp_path / "c.sqlite3")})
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr[-2000:]


def test_quiet_switch(monkeypatch):
    monkeypatch.setattr(progress, "_quiet", None)
    monkeypatch.setenv("XALIGN_QUIET", "0")
    assert not progress.is_quiet()
    monkeypatch.setenv("XALIGN_QUIET", "1")
    assert progress.is_quiet()
    progress.set_quiet(False)
    assert not progress.is_quiet()  # the flag wins over the environment


# -- what the bar counts: batches as they finish, encoding time only, named texts ----------------------------


class _Watching:
    """The bar embed_texts makes, kept so a model can read it while it encodes."""

    def __init__(self, monkeypatch):
        self.bar = None
        real = progress.bar
        monkeypatch.setattr(progress, "shown", lambda: True)

        def keep(*args, **kwargs):
            self.bar = real(*args, **kwargs)
            return self.bar

        monkeypatch.setattr(progress, "bar", keep)


def _model(watch, dim=4, **attrs):
    from test_encoding import meta

    from mteb_xalign.adapter import TextEncoder

    class Watched(TextEncoder):
        def embed(self, texts, *, prompt_type, task_metadata=None, languages=None):
            self.seen.append((len(texts), watch.bar.n, watch.bar.format_dict["elapsed"]))
            return np.random.default_rng(len(self.seen)).standard_normal((len(texts), dim))

    model = Watched("test/watched", "1")
    model.mteb_model_meta = meta("test/watched", dim=dim)
    model.seen = []
    for key, value in attrs.items():
        setattr(model, key, value)
    return model


def test_the_bar_moves_once_per_batch_as_each_finishes(monkeypatch, isolated_cache):
    from test_encoding import TASK

    from mteb_xalign.encoding import embed_texts

    watch = _Watching(monkeypatch)
    model = _model(watch)
    embed_texts(model, [f"text {i}" for i in range(300)], prompt_type=PromptType.query, task_metadata=TASK,
                encode_kwargs={"batch_size": 32})
    sizes = [n for n, _, _ in model.seen]
    assert sizes == [32] * 9 + [12]
    # When batch k starts, exactly the k batches before it are counted: not the whole chunk at once.
    assert [done for _, done, _ in model.seen] == [32 * k for k in range(10)]
    assert watch.bar.n == 300


def test_eta_counts_encoding_time_not_the_workers_start_up(monkeypatch, isolated_cache):
    """A pool's start (each worker loads the model: seconds) happens before the bar's clock starts."""
    import time

    from test_encoding import TASK

    from mteb_xalign import encode_workers
    from mteb_xalign.encoding import embed_texts

    startup = 1.0
    calls = []

    def slow_start(model, n_workers):  # a pool that takes `startup` to start, then is not used
        calls.append(n_workers)
        if len(calls) == 1:
            time.sleep(startup)
        return None

    monkeypatch.setattr(encode_workers, "_pool_for", slow_start)
    monkeypatch.setenv(encode_workers.WORKERS_ENV, "2")
    monkeypatch.delenv(encode_workers.INSIDE_ENV, raising=False)
    watch = _Watching(monkeypatch)
    model = _model(watch, encode_sharding="per_text", device="cpu")
    started = time.perf_counter()
    embed_texts(model, [f"text {i}" for i in range(200)], prompt_type=PromptType.query, task_metadata=TASK)
    assert time.perf_counter() - started >= startup and calls[0] == 2  # the start-up really happened ...
    assert all(elapsed < startup / 2 for _, _, elapsed in model.seen)  # ... and the bar never counted it
    assert watch.bar.format_dict["elapsed"] < startup / 2


def test_workers_start_up_is_announced(monkeypatch, capsys):
    from mteb_xalign import encode_workers

    monkeypatch.setattr(encode_workers, "_pool_for", lambda model, n: object())
    monkeypatch.setattr(encode_workers, "worker_count", lambda model, n: 2)
    monkeypatch.setattr(progress, "shown", lambda: True)
    watch = _Watching(monkeypatch)
    encode_workers.prepare(_model(watch), 500)
    err = capsys.readouterr().err
    assert "test/watched: starting 2 encoding workers" in err and "2 encoding workers ready in" in err


def test_the_progress_line_names_what_is_encoded(monkeypatch, capsys, isolated_cache):
    from test_encoding import TASK

    from mteb_xalign.encoding import embed_texts

    watch = _Watching(monkeypatch)
    texts = [f"pair {i}" for i in range(5)]
    embed_texts(_model(watch), texts, prompt_type=PromptType.query, task_metadata=TASK,
                label="training pairs (tatoeba ar-en)")
    err = capsys.readouterr().err
    assert "test/watched: training pairs (tatoeba ar-en): 5 query texts to encode" in err
    assert TASK.name not in err  # the task only sets the encoding context here
    embed_texts(_model(watch), texts + ["one more"], prompt_type=PromptType.query, task_metadata=TASK)
    assert f"test/watched: {TASK.name}: 1 query texts to encode, 5 found" in capsys.readouterr().err
