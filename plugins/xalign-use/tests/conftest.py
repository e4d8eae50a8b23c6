"""The project's shared fixtures (tests/xalign_testing.py): an isolated embedding cache per test, `cli`."""

from xalign_testing import cli, isolated_cache  # noqa: F401 -- pytest finds fixtures by name here
