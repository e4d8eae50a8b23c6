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

import pytest

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
