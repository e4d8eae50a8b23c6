"""Run by mteb_xalign_autoload.pth at interpreter start-up: keep it tiny and import-free.

Installs a meta-path finder that notices when `mteb` is first imported and, once mteb's
own `__init__` has run, hands control to `mteb_bridge.register_with_mteb()`. This is how
the plain `mteb` command sees our tasks and models: mteb 2.26 has no plugin registry.
Set XALIGN_NO_AUTOLOAD=1 to switch it off.
"""

import os
import sys
from mteb_xalign import mteb_bridge


class _MtebImportHook:
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "mteb":
            return None
        sys.meta_path.remove(self)  # one shot: we only care about the first import
        import importlib.util

        spec = importlib.util.find_spec("mteb")
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)

            mteb_bridge.register_with_mteb(from_import_hook=True)

        spec.loader.exec_module = exec_then_register
        return spec


if not os.environ.get("XALIGN_NO_AUTOLOAD") and "mteb" not in sys.modules:
    sys.meta_path.insert(0, _MtebImportHook())
