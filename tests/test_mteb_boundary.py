"""mteb's private API is reached from one module only: mteb_xalign/mteb_compat.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("mteb_xalign", "plugins", "benchmarks")
BOUNDARY = ROOT / "mteb_xalign" / "mteb_compat.py"
#: mteb's private modules/attributes, its model-implementation modules, CPython's import state
PRIVATE = re.compile(r"mteb\._|model_implementations|_initializing")


def private_uses(root: Path) -> list[str]:
    found = []
    for folder in SCANNED:
        for path in sorted((root / folder).rglob("*.py")):
            # Shipped code only: tests (ours in tests/, plugins' in plugins/<name>/tests/) may poke
            # mteb's internals to set up a case, as tests/ always could.
            if path == BOUNDARY or {"site-packages", ".venv", "tests"} & set(path.relative_to(root).parts):
                continue
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if PRIVATE.search(line):
                    found.append(f"{path.relative_to(root)}:{lineno}: {line.strip()}")
    return found


def test_only_mteb_compat_touches_mteb_private_api():
    assert private_uses(ROOT) == []


@pytest.mark.parametrize("line", [
    "from mteb._create_dataloaders import create_dataloader",
    "from mteb.models.model_implementations import MODEL_REGISTRY",
    "spec._initializing",
])
def test_the_scan_finds_a_private_use(tmp_path, line):
    for folder in ("plugins/p", "plugins/p/tests"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "m.py").write_text(f"x = 1\n{line}\n", encoding="utf-8")
    assert private_uses(tmp_path) == [f"plugins/p/m.py:2: {line}"]


def test_the_boundary_module_reaches_what_it_promises():
    """Each helper works against the installed mteb (a version bump that moves one fails here)."""
    import mteb
    from mteb.types import PromptType

    from mteb_xalign import mteb_compat

    mteb_compat.check_version()
    task = mteb.get_task("LAReQA")
    batch = next(iter(mteb_compat.make_loader([" a b", "c"], task_metadata=task.metadata,
                                              prompt_type=PromptType.query, batch_size=2)))
    assert batch["text"] == [" a b", "c"]
    meta = mteb_compat.known_meta("intfloat/multilingual-e5-small")
    assert meta is not None and meta.training_datasets
    assert mteb_compat.known_meta("no/such-model") is None
    assert mteb_compat.has_task("LAReQA") and not mteb_compat.has_task("NoSuchTask")
    assert mteb_compat.half_imported("mteb_xalign.no_such_module") is False
