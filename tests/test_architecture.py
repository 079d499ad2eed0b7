"""The package's architecture as tests: layers, no import cycles, a Hydra-free core, small modules,
no private APIs of dependencies, nothing referenced outside the repository."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "spreadsim"

#: the layers, lowest first: a module may import its own layer and the layers before it
LAYERS = [
    ("spreadsim.errors", "spreadsim.version", "spreadsim.jit", "spreadsim.dists", "spreadsim.rng"),
    ("spreadsim.schema",),
    ("spreadsim.outputs",),  # tables, statistics, plots, report: they know no model object
    ("spreadsim.graphs",),
    ("spreadsim.engine",),
    ("spreadsim.policies",),
    ("spreadsim.runs",),
    ("spreadsim.fit",),  # fitting the model to data: cascades, removal delays
    ("spreadsim.app", "spreadsim.web"),  # the command line (Hydra) and the what-if page
]
APP_ONLY = ("hydra", "omegaconf", "joblib", "hydra_plugins")
MAX_LINES = 500


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (functions and TYPE_CHECKING blocks
    included): for ``from a.b import c``, ``a.b.c`` if that is a module, else ``a.b``."""
    tree = ast.parse(path.read_text())
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if sub in MODULES else base)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            found.add("<dynamic import>")
    return found


GRAPH = {m: {i for i in _imports(p) if i in MODULES} for m, p in MODULES.items()}


def _layer(module: str) -> int:
    for i, names in enumerate(LAYERS):
        if module == "spreadsim" or any(module == n or module.startswith(n + ".") for n in names):
            return -1 if module == "spreadsim" else i
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def test_every_module_has_a_layer():
    for m in MODULES:
        _layer(m)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "spreadsim"))
def test_imports_follow_the_layers(module):
    mine = _layer(module)
    above = sorted(i for i in GRAPH[module] if i != "spreadsim" and _layer(i) > mine)
    assert not above, f"{module} (layer {mine}) imports higher layers: {above}"
    assert "spreadsim" not in GRAPH[module], f"{module} imports the package root"


def test_no_import_cycles():
    """Depth-first search over every import, however hidden (inside functions, TYPE_CHECKING)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m]):
            if state.get(n) == 1:
                cycle = stack[stack.index(n):] + [n]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_no_dynamic_imports_in_the_core():
    """The root package's lazy API map is the one place that imports by name (it imports nothing
    that imports it back); everything else imports what it uses in plain sight."""
    dynamic = [m for m, p in MODULES.items() if "<dynamic import>" in _imports(p) and m != "spreadsim"]
    assert not dynamic


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith("spreadsim.app")))
def test_core_imports_no_hydra_omegaconf_or_joblib(module):
    bad = sorted(i for i in _imports(MODULES[module]) if i.split(".")[0] in APP_ONLY)
    assert not bad, f"{module} imports {bad}: only spreadsim.app may"


def test_the_core_runs_without_hydra_in_a_fresh_interpreter():
    code = ("import spreadsim, sys\n"
            "spreadsim.simulate({'graph': {'kind': 'barabasi_albert', 'n': 300, 'm': 2},"
            " 'scenario': {'illegal_posts': 3, 'legal_posts': 2, 'uploaders': 2, 'horizon_h': 48}}, seed=0)\n"
            "import spreadsim.runs.job, spreadsim.runs.calibration, spreadsim.outputs.sweep_outputs\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('hydra', 'omegaconf', 'joblib'))\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES}: split it by concern)"


#: the package's scripts (the what-if page's): the same size rule as its modules
SCRIPTS = {str(p.relative_to(SRC)): p for p in sorted(SRC.rglob("*.js"))}


def test_the_package_has_scripts_to_measure():
    assert "web/static/app.js" in SCRIPTS


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_scripts_are_small(script):
    lines = len(SCRIPTS[script].read_text().splitlines())
    assert lines <= MAX_LINES, f"{script} has {lines} lines (at most {MAX_LINES}: split it by concern)"


@pytest.mark.parametrize("package", sorted(m for m, p in MODULES.items() if p.name == "__init__.py"))
def test_packages_say_what_they_own(package):
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text()))
    assert doc and len(doc.split()) >= 8, f"{package} needs a docstring: what it owns, what it may import"


def test_every_package_is_installed():
    """A subpackage missing from pyproject's list would be left out of a non-editable install."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert packages <= listed, sorted(packages - listed)


def test_no_private_apis_of_dependencies():
    pattern = r"_internal|\._core\b|_backend\._workers|_effective_n_jobs|_convert_value"
    found = subprocess.run(["git", "grep", "-nE", pattern, "--", "src", "tests", "conf"],
                           cwd=ROOT, capture_output=True, text=True).stdout
    found = "\n".join(line for line in found.splitlines() if not line.startswith("tests/test_architecture.py"))
    assert not found, found


def test_nothing_outside_the_repository_is_referenced():
    # the pattern is built from parts, so that this file does not match it
    outside = "|".join([r"\.\./" + "shared", "shared" + "/data", "DESIGN" + r"\.md",
                        "/" + "work/"])  # (the developers' machine's folders, e.g. its venv)
    found = subprocess.run(["git", "grep", "-nE", outside, "--", "src", "tests", "docs", "conf", "README.md",
                            "experiments", "benchmarks"], cwd=ROOT, capture_output=True, text=True).stdout
    assert not found, found
