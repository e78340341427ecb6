"""The wings of agent/: every import points to the same wing or a lower one, and none forms a cycle.

The order is the one agent/__init__.py draws. Imports are read with `ast` from every module,
including those inside functions, so a lazy import cannot hide an upward arrow.

The package roots are the one exception: `agent` (and `skills`) hand out the public names of
the top wing on first use (PEP 562 `__getattr__`), and hold nothing else but the version. Their
own arrows are left out of the graph; test_the_roots_only_hand_out_public_names pins them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module belongs to the first prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    (
        "agent.errors",
        "agent.reply",
        "agent.redact",
        "agent.paths",
        "agent.trajectory",
        "agent.run_folder",
        "agent.records",
    ),
    ("skills",),
    ("agent.perception.screen", "agent.perception.imaging", "agent.perception.coords"),
    ("agent.display",),
    ("agent.desktops",),
    ("agent.perception",),
    ("agent.parse",),
    ("agent.config",),
    ("agent.model",),
    ("agent.tools",),
    ("agent.policy", "agent.killswitch", "agent.act", "agent.loop", "agent.runner"),
    ("agent.api",),
    ("agent.replay", "agent.report", "agent.view"),
    ("agent.scenarios",),
    ("agent.mcp",),
    ("agent.cli", "agent.pytest_plugin"),
]


def module_name(path: Path) -> str:
    """The dotted name of a source file under ROOT."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of agent/ and skills/ by dotted name."""
    files = [*ROOT.glob("agent/**/*.py"), *ROOT.glob("skills/**/*.py")]
    return {module_name(path): path for path in files}


def imported(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports (a name imported from a package counts as its module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {module for module in found if module in known and module != name}


def layer_of(module: str) -> int:
    """The index of the wing a module lives in."""
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    if module in ("agent", "skills"):
        return -1  # the package roots hold only a docstring and the version
    raise AssertionError(f"{module} is in no wing: add it to LAYERS and to agent/__init__.py")


ROOTS = ("agent", "skills")
GRAPH = {
    name: imported(path, set(modules())) if name not in ROOTS else set()
    for name, path in modules().items()
}


def test_every_module_has_a_wing() -> None:
    for name in GRAPH:
        layer_of(name)


def test_no_import_points_up() -> None:
    upward = [
        f"{source} -> {target}"
        for source, targets in GRAPH.items()
        for target in targets
        if layer_of(target) > layer_of(source)
    ]
    assert upward == []


def test_no_cycles() -> None:
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                cycle = [*trail[trail.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


# The desktop seam: the one module that maps a --desktop URL to its backend may import them all.
SEAM = {"agent.desktops", "agent.desktops.base", "agent.desktops.open"}


def backend_of(module: str) -> str | None:
    """The backend folder a module belongs to (agent.desktops.NAME...), or None."""
    parts = module.split(".")
    if parts[:2] != ["agent", "desktops"] or module in SEAM or len(parts) < 3:
        return None
    return parts[2]


def test_backends_do_not_import_each_other_and_nothing_above_the_seam_imports_one() -> None:
    crossing = [
        f"{source} -> {target}"
        for source, targets in GRAPH.items()
        for target in targets
        if backend_of(target) is not None
        and source != "agent.desktops.open"
        and backend_of(source) != backend_of(target)
    ]
    assert crossing == []


# The library that speaks each remote backend's protocol, imported by that backend alone (and
# only once it is chosen: parse_desktop and `import agent` load none of them).
BACKEND_LIBRARIES = {"adbutils": "adb", "pywayland": "wayland"}


def third_party_imports(path: Path) -> set[str]:
    """The top-level names of the modules a file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_each_backend_library_is_imported_by_its_backend_alone() -> None:
    misplaced = [
        f"{name} imports {library}"
        for name, path in modules().items()
        for library in third_party_imports(path) & set(BACKEND_LIBRARIES)
        if backend_of(name) != BACKEND_LIBRARIES[library]
    ]
    assert misplaced == []


ROOT_IMPORTS = """
import json, sys
import agent, skills
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("agent", "skills"))))
"""


def test_the_roots_only_hand_out_public_names() -> None:
    import agent
    import agent.api

    assert set(agent.PUBLIC.values()) == {"agent.api"}
    assert set(agent.__all__) == {*agent.PUBLIC, "__version__"}
    for name in agent.PUBLIC:
        assert getattr(agent, name) is getattr(agent.api, name)
    # Importing the roots imports nothing else of deskpilot: the CLI starts quickly.
    done = subprocess.run(
        [sys.executable, "-c", ROOT_IMPORTS], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert json.loads(done.stdout) == ["agent", "skills"]
