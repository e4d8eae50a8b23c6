"""Connect to Ray: embedded on this machine by default, or join a running cluster.

`address=None` always starts a fresh local Ray inside this process's session (Ray's
address="local"), so a stray RAY_ADDRESS or an unrelated local cluster is never joined by
accident; joining is explicit (`--address ray://host:10001`, `--address host:6379` or `auto`).
If Ray is already initialised (a test fixture, a notebook), that session is used and left open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mteb_xalign.errors import UserError

INSTALL_HINT = "--executor ray needs Ray, which is not installed: pip install 'mteb-xalign[ray]'"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return ray


@contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """Yield the `ray` module with a connected session; shut down only what we started."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    common = dict(include_dashboard=False, logging_level="ERROR", log_to_driver=True)
    if address:
        try:
            ray.init(address=address, **common)
        except ConnectionError as exc:
            raise UserError(f"--address {address}: cannot join the Ray cluster ({_reason(exc)})") from None
    else:
        ray.init(address="local", num_cpus=num_cpus, **common)
    try:
        yield ray
    finally:
        ray.shutdown()


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
