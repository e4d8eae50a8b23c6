"""mteb-xalign: cross-lingual alignment tasks and model plugins for MTEB."""

from mteb_xalign.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "__version__"]
