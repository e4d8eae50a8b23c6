"""numpy's BLAS thread pool, through threadpoolctl (a dependency), whose libraries are found once.

Finding the loaded thread pools walks the process's libraries (~2 ms): the ranking asks once per
pool it ranks (a MultiRefCLIR run ranks 78 small ones) and the affinity metric once per call.
numpy's BLAS, the one limited here, is loaded with numpy, before anything here runs.
"""

from __future__ import annotations

from threadpoolctl import ThreadpoolController

_CONTROLLER = None


def _controller():
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def blas_threads() -> int:
    """The threads BLAS runs on now (its setting, or a one_blas_thread() around the call)."""
    info = _controller().info()  # each library's thread count, read now
    return max(1, min((p["num_threads"] for p in info if p.get("user_api") == "blas"), default=1))


def one_blas_thread():
    """A context in which BLAS runs on one thread."""
    return _controller().limit(limits=1, user_api="blas")
