"""Old name of `mteb_xalign.adapter`, kept for plugins written against it (import from adapter)."""

from mteb_xalign.adapter import TextEncoder, l2_normalise  # noqa: F401
