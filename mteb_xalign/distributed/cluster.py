"""Connect to Ray: embedded on this machine by default, or join a running cluster.

`address=None` always starts a fresh local Ray inside this process's session (Ray's
address="local"), so a stray RAY_ADDRESS or an unrelated local cluster is never joined by
accident; joining is explicit (`--address ray://host:10001`, `--address host:6379` or `auto`).
If Ray is already initialised (a test fixture, a notebook), that session is used and left open.

An address is checked before Ray sees it: Ray retries an address where nothing answers for
minutes (and can end the process when a port answers that is not Ray's), so its form is checked,
then one short TCP connect and an HTTP/2 greeting (Ray's GCS and client server speak gRPC), then
Ray's own GCS client asking for the cluster's id, tell within seconds whether Ray answers there.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mteb_xalign.errors import UserError

INSTALL_HINT = "--executor ray needs Ray, which is not installed: pip install 'mteb-xalign[ray]'"
#: Seconds a probe waits for the address to accept a connection and to greet back.
PROBE_TIMEOUT_S = 5.0
RAY_CLIENT_PORT = 10001  # ray://HOST without a port: the Ray client server's default port
HOW_TO_JOIN = "use HOST:PORT (the head's GCS port, 6379 by default), ray://HOST[:10001] or auto"
# The HTTP/2 client preface and an empty SETTINGS frame; a gRPC server answers with its own SETTINGS frame.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_H2_SETTINGS = 0x04


def import_ray() -> Any:
    try:
        import ray  # deferred: ray is slow to import
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return ray


def parse_address(address: str) -> tuple[str, int]:
    """(host, port) of a Ray address as `--address` takes it; a one-line UserError otherwise."""
    text = address.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    elif scheme != "ray":
        raise UserError(f"--address {address}: '{scheme}://' is not a Ray address; {HOW_TO_JOIN}")
    try:
        parts = urllib.parse.urlsplit("//" + rest)
        port = parts.port
    except ValueError:  # a port that is not a number in 0..65535
        raise UserError(f"--address {address}: the port is not a number from 1 to 65535; {HOW_TO_JOIN}") from None
    malformed = parts.path or parts.query or parts.fragment or "@" in rest or any(c.isspace() for c in rest)
    if not parts.hostname or malformed:
        raise UserError(f"--address {address}: not an address Ray can join; {HOW_TO_JOIN}")
    if port is None and scheme == "ray":
        port = RAY_CLIENT_PORT
    if port is None:
        raise UserError(f"--address {address}: no port; {HOW_TO_JOIN}")
    if port == 0:
        raise UserError(f"--address {address}: the port is not a number from 1 to 65535; {HOW_TO_JOIN}")
    return parts.hostname, port


def resolve_auto() -> str:
    """The address `--address auto` means here (RAY_ADDRESS, else the cluster `ray start` last started)."""
    import_ray()
    try:  # Ray's own lookup; private, so tolerate its absence in another Ray version
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:
        return "auto"
    try:
        found = canonicalize_bootstrap_address("auto")
    except ConnectionError:
        found = None
    except ValueError as exc:  # a malformed RAY_ADDRESS
        raise UserError(f"--address auto: RAY_ADDRESS is not a Ray address ({exc})") from None
    if not found:
        raise UserError("--address auto: no running Ray cluster found on this machine (none started with "
                        "`ray start --head`, and RAY_ADDRESS is not set); name its address with --address HOST:PORT")
    return found


def check_address(address: str, timeout: float | None = None) -> str:
    """Refuse, in one line naming it, an address where no Ray cluster can answer; return what to join."""
    timeout = PROBE_TIMEOUT_S if timeout is None else timeout
    import_ray()
    target = resolve_auto() if address.strip() == "auto" else address.strip()
    if target == "auto":  # this Ray version could not say where `auto` points: let Ray find it
        return target
    host, port = parse_address(target)
    shown = address if target == address.strip() else f"auto ({target})"
    client = target.startswith("ray://")
    if client:
        try:
            import grpc  # noqa: F401 - Ray's client needs it; a bare `pip install ray` lacks it
        except ImportError:
            raise UserError(f"--address {shown}: a ray:// address needs Ray's client: pip install 'ray[client]' "
                            f"(or join the head's GCS port instead: --address {host}:6379)") from None
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(_H2_PREFACE)
            header = _read(conn, 9)
    except socket.gaierror:
        raise UserError(f"--address {shown}: unknown host {host!r}") from None
    except ConnectionRefusedError:
        raise UserError(f"--address {shown}: nothing listens on port {port} of {host} (connection refused); "
                        f"start the cluster there with `ray start --head`, or leave out --address to start "
                        f"Ray on this machine") from None
    except TimeoutError:
        raise UserError(f"--address {shown}: no answer from port {port} of {host} within {timeout:g} s") from None
    except OSError as exc:
        raise UserError(f"--address {shown}: cannot connect ({exc.strerror or exc})") from None
    not_ray = f"--address {shown}: something answers on port {port} of {host}, but not a Ray cluster"
    if len(header) < 9 or header[3] != _H2_SETTINGS:
        raise UserError(f"{not_ray} (no gRPC greeting); {HOW_TO_JOIN}")
    if not client:
        # A gRPC server that is not Ray's GCS would make ray.init retry for minutes: ask it for the
        # cluster's id first, with Ray's own client, in a child process we stop waiting for.
        reason = _ask_gcs(f"{host}:{port}", timeout)
        if reason is not None:
            raise UserError(f"{not_ray} ({reason}); {HOW_TO_JOIN}")
    return target


# Run apart, so a GCS that never answers (Ray's client then retries for minutes) can be killed.
_GCS_QUESTION = """import sys
from ray._raylet import GcsClient
print("asking", flush=True)
GcsClient(address=sys.argv[1])
"""


def _ask_gcs(address: str, timeout: float) -> str | None:
    """None when a Ray GCS at `address` gives its cluster id within `timeout`; else why not.

    Asked by Ray's own client in a child process: the clock starts once it has imported Ray (slow
    on a loaded machine), and a GCS that never answers leaves no thread behind, only a killed child.
    """
    child = subprocess.Popen([sys.executable, "-c", _GCS_QUESTION, address], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        child.stdout.readline()  # "asking": Ray is imported
        _, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return f"its GCS gave no cluster id within {timeout:g} s"
    if child.returncode == 0:
        return None
    # The exception's own line (Ray's C++ log lines start with "[").
    lines = [line.strip() for line in err.splitlines() if line.strip() and not line.startswith(("[", " "))]
    reason = " ".join(lines[-1].split())[:200] if lines else f"exit code {child.returncode}"
    reason = re.sub(r"^[\w.]+(Error|Exception): ", "", reason)  # the words, not the class
    if "auth" in reason.lower():  # a Ray cluster that wants a token: ray.init says how (see _reason)
        return None
    return f"its GCS does not answer: {reason}"


def _read(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


@contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None,
                say: Callable[[str], None] | None = None) -> Iterator[Any]:
    """Yield the `ray` module with a connected session; shut down only what we started.

    `say` receives one line when Ray starts or a cluster is joined, and one when it is ready.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    say = say or (lambda line: None)
    # No dashboard UI (less to start); workers' warnings still reach this terminal.
    common = dict(include_dashboard=False, logging_level="ERROR", log_to_driver=True)
    t0 = time.perf_counter()
    target = check_address(address) if address else None
    try:  # from here on Ray may have started processes: shut down whatever happens (Ctrl-C included)
        if target:
            say(f"joining the Ray cluster at {address}" + (f" ({target})" if target != address.strip() else ""))
            try:
                ray.init(address=target, **common)
            except ConnectionError as exc:
                raise UserError(f"--address {address}: cannot join the Ray cluster ({_reason(exc)})") from None
        else:
            say("starting Ray on this machine" + (f" with {num_cpus} CPUs" if num_cpus else ""))
            ray.init(address="local", num_cpus=num_cpus, **common)
        resources = ray.cluster_resources()
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        say(f"Ray ready in {time.perf_counter() - t0:.1f} s: {nodes} node{'s' * (nodes != 1)}, "
            f"{resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs")
        yield ray
    finally:
        ray.shutdown()


def to_stderr(line: str) -> None:
    print(f"xalign: {line}", file=sys.stderr, flush=True)


def cluster_gpus(ray: Any) -> float:
    return float(ray.cluster_resources().get("GPU", 0.0))


def _reason(exc: BaseException) -> str:
    """Why ray.init could not connect, in one line (Ray hides it in the exception's cause)."""
    cause = exc.__cause__ or exc
    text = " ".join(str(cause).split())
    if "InvalidAuthToken" in text or "Authentication token" in text:
        return ("the cluster uses token authentication: set RAY_AUTH_MODE=token here, with its token in "
                "~/.ray/auth_token or RAY_AUTH_TOKEN")
    return text[:300] or type(cause).__name__
