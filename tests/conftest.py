"""Fixtures for tests/: defined once in xalign_testing.py, which plugins' tests share.

Import helpers from `xalign_testing`, never from this file. The names below other than the
fixtures are re-exported only for tests not yet switched to `xalign_testing`.
"""

from xalign_testing import REPO, VENV_BIN, cli, has_chromium, isolated_cache, run_cli, xalign  # noqa: F401
