"""What `xalign tasks` and `xalign models` list, without importing mteb when nothing it depends on changed.

The listing is every plugin's registered tasks and models: it needs mteb (~9 s to import) and the
plugins' registration code. It is computed once and kept on disk
($XDG_CACHE_HOME/mteb-xalign/listing/<key>.json), found again under a key of everything the code
that computes it can be:
  - the interpreter and sys.path;
  - every installed distribution and .pth file on sys.path, by name and modification time (a
    package installed, removed or reinstalled changes it), and the entry points of our group;
  - every file of a plugin package (or of mteb_xalign) that lives outside the interpreter's
    prefix (an editable install or a source checkout);
  - the environment, less the variables that only describe the terminal;
and each entry records every file and folder its registration looked at outside the installed code
(opened, listed or stat'ed: models files, the aligned-models index, artifact folders, local
weights), with their state then. When one of them changed, appeared or went away, the listing is
computed again. Whether a model runs here (API key set, weights on disk) is decided live every time,
from the loader arguments the entry keeps.

In a process that already imported mteb, or whose plugin manager holds plugins that did not come
from entry points (tests register some by hand), the listing is computed live and not stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
import os
import stat as stat_module
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from mteb_xalign import mteb_bridge, plugins
from mteb_xalign.public_meta import loader_arguments

FORMAT = 1
#: Variables that describe the terminal or the shell, not anything a plugin could read.
_VOLATILE_ENV = {"PWD", "OLDPWD", "SHLVL", "_", "TERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "TERM_SESSION_ID",
                 "COLUMNS", "LINES", "WINDOWID", "SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY", "PS1", "PROMPT_COMMAND",
                 "COLORTERM", "TMUX", "TMUX_PANE", "STY", "VTE_VERSION", "SECURITYSESSIONID", "SSH_AUTH_SOCK",
                 "SSH_AGENT_PID", "GPG_TTY", "DISPLAY", "WINDOWPATH", "XDG_SESSION_ID", "DBUS_SESSION_BUS_ADDRESS",
                 "LS_COLORS"}
#: The loader arguments `model_availability` reads (what is decided live on every call).
AVAILABILITY_KEYS = ("api_key_env", "base_url", "sources", "model_revision")
_KEEP = 8  # listings kept on disk (one per environment in use)


@dataclass
class Listing:
    tasks: list[tuple[str, str, str, int, str]]  # name, plugin, mteb type, subsets, main score
    models: list[dict[str, Any]]  # name, plugin, languages, embed_dim, loader (the AVAILABILITY_KEYS)
    notes: dict[str, str]  # model name -> why a listed model is not registered
    messages: str  # what the plugins said on stderr while registering, said again on every call
    inputs: list[tuple[str, str, Any]] = field(default_factory=list)  # (path, how, state) registration looked at
    cached: bool = False


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mteb-xalign" / "listing"


def get_listing() -> Listing:
    """The listing: from disk when everything it depends on is as it was, else computed (and stored)."""
    if not _cacheable_process():
        return _compute(record=False)
    key = _key()
    path = cache_dir() / f"{key}.json"
    stored = _read(path)
    if stored is not None:
        return stored
    listing = _compute(record=True)
    _write(path, listing)
    return listing


def _cacheable_process() -> bool:
    if "mteb" in sys.modules or os.environ.get("XALIGN_NO_LISTING_CACHE"):
        return False

    return not plugins.registered_by_hand()


# -- the key -------------------------------------------------------------------------------------------

def _key() -> str:
    h = hashlib.sha256()

    def add(*parts: Any) -> None:
        h.update(json.dumps(parts, default=str).encode("utf-8", "surrogatepass"))

    add(FORMAT, sys.executable, sys.version, sys.path)
    prefixes = _installed_roots()
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")):
                add(entry, name, _state(os.path.join(entry or ".", name)))
    packages = {"mteb_xalign"}
    for ep in entry_points(group="mteb_xalign"):
        add(ep.name, ep.value)
        packages.add(ep.value.split(":")[0].split(".")[0])
    for package in sorted(packages):
        root = _package_root(package)
        add(package, root)
        if root is not None and not _under(root, prefixes):  # editable or source checkout: its files
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for name in sorted(files):
                    add(name, _state(os.path.join(folder, name)))
    add(sorted((k, v) for k, v in os.environ.items() if k not in _VOLATILE_ENV))
    return h.hexdigest()[:32]


def _package_root(name: str) -> str | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return str(list(spec.submodule_search_locations)[0])
    return spec.origin


def _installed_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    return tuple(sorted(os.path.realpath(r) + os.sep for r in roots))


def _under(path: str, roots: tuple[str, ...]) -> bool:
    real = os.path.realpath(path)
    return any(real.startswith(root) for root in roots)


def _state(path: str, how: str = "read") -> list | None:
    """What changes when a file is written, replaced, created or removed, or a folder's entries change
    (None: absent). A folder only stat'ed (`how="stat"`: an existence check) is known by being one."""
    try:
        st = _real_stat(path)
    except OSError:
        return None
    if how == "stat" and stat_module.S_ISDIR(st.st_mode):
        return ["folder"]
    state = [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]
    if how == "read" and stat_module.S_ISREG(st.st_mode) and st.st_size <= _HASHED_SIZE:
        # Small files (models files, the index, cards) by content too: two writes of the same size
        # within one tick of the file system's clock keep the times.
        try:
            with open(path, "rb") as f:
                state.append(hashlib.sha256(f.read()).hexdigest())
        except OSError:
            return None
    return state


_HASHED_SIZE = 1 << 18


_real_stat = os.stat


# -- stored listings -----------------------------------------------------------------------------------

def _read(path: Path) -> Listing | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            return None
        for input_path, how, state in data["inputs"]:
            if _state(input_path, how) != state:
                return None  # a file the registration read changed: compute again
        return Listing([tuple(t) for t in data["tasks"]], data["models"], data["notes"], data["messages"],
                       data["inputs"], cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, listing: Listing) -> None:
    data = {"format": FORMAT, "written": time.time(), "inputs": listing.inputs, "tasks": listing.tasks,
            "models": listing.models, "notes": listing.notes, "messages": listing.messages}
    try:
        text = json.dumps(data)
    except (TypeError, ValueError):
        return  # something in it is not plain data: never stored, computed each time
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        old = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[_KEEP:]
        for stale in old:
            stale.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache folder only costs time


# -- computing it ----------------------------------------------------------------------------------------

def _compute(*, record: bool) -> Listing:
    messages = io.StringIO()
    recorder = _Recorder(exclude=(*_installed_roots(), str(cache_dir()) + os.sep)) if record else None
    try:
        with contextlib.redirect_stderr(messages), (recorder or contextlib.nullcontext()):
            return _registered(messages, recorder)
    except BaseException:
        sys.stderr.write(messages.getvalue())  # what the plugins said before it failed
        raise


def _registered(messages: io.StringIO, recorder: _Recorder | None) -> Listing:
    mteb_bridge.ensure_registered()
    tasks = sorted((cls.metadata.name, plugin, cls.metadata.type, len(cls.metadata.hf_subsets or []),
                    cls.metadata.main_score) for plugin, cls in plugins.get_tasks())
    models = []
    for plugin, meta in plugins.get_models():
        kwargs = loader_arguments(meta)
        models.append({"name": meta.name, "plugin": plugin, "languages": list(meta.languages or []),
                       "embed_dim": meta.embed_dim,
                       "loader": {k: kwargs[k] for k in AVAILABILITY_KEYS if k in kwargs}})
    notes = plugins.model_notes()
    inputs = recorder.inputs() if recorder is not None else []
    return Listing(tasks, sorted(models, key=lambda m: m["name"]), notes, messages.getvalue(), inputs)


class _Recorder:
    """Every path opened, listed or stat'ed while registering, outside the installed code.

    Audit hooks cannot be removed: the one installed stays, switched off after use. os.stat and
    os.lstat (what Path.exists/is_file and os.path.isfile call) are wrapped while it runs.
    """

    _active: _Recorder | None = None
    _hooked = False

    def __init__(self, exclude: tuple[str, ...]):
        self.exclude = exclude + ("/proc/", "/sys/", "/dev/")
        # The import system lists sys.path folders (the current one too, for `python -c`): sys.path is in the key.
        self.skip = {os.path.abspath(entry or ".") for entry in sys.path} | {"/proc", "/sys", "/dev"}
        # path -> ("read" (opened or listed) or "stat", its state when first seen: a change while the
        # registration runs makes the next call compute again)
        self.paths: dict[str, tuple[str, Any]] = {}
        self.busy = False

    def note(self, path: Any, how: str) -> None:
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        elif isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str) or not path:
            return  # a file descriptor
        # A relative path is kept relative: it is checked again from wherever the next call runs
        # (`xalign models` looks for an artifact folder named like each argument, e.g. ./models).
        absolute = os.path.abspath(path)
        if not absolute.startswith(self.exclude) and absolute not in self.skip:
            seen = self.paths.get(path)
            if (seen is None or (how == "read" and seen[0] == "stat")) and not self.busy:
                self.busy = True  # _state opens small files: that open is ours, not the registration's
                try:
                    self.paths[path] = (how, _state(path, how))
                finally:
                    self.busy = False

    def __enter__(self) -> _Recorder:
        if not _Recorder._hooked:
            sys.addaudithook(_audit)
            _Recorder._hooked = True
        _Recorder._active = self
        self._stat, self._lstat = os.stat, os.lstat

        def stat(path, *args, _real=self._stat, **kwargs):
            if _Recorder._active is self:  # `from os import stat` done meanwhile keeps this wrapper
                self.note(path, "stat")
            return _real(path, *args, **kwargs)

        def lstat(path, *args, _real=self._lstat, **kwargs):
            if _Recorder._active is self:
                self.note(path, "stat")
            return _real(path, *args, **kwargs)

        os.stat, os.lstat = stat, lstat
        return self

    def __exit__(self, *exc) -> None:
        os.stat, os.lstat = self._stat, self._lstat
        _Recorder._active = None

    def inputs(self) -> list[tuple[str, str, Any]]:
        # Resolved symbolic links are excluded like their targets (e.g. a venv's python link).
        return [(p, how, state) for p, (how, state) in sorted(self.paths.items())
                if not os.path.realpath(p).startswith(self.exclude)]


def _audit(event: str, args: tuple) -> None:
    recorder = _Recorder._active
    if recorder is None or event not in ("open", "os.listdir", "os.scandir"):
        return
    if args:
        recorder.note(args[0] if args[0] is not None else ".", "read")
