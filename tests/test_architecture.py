"""The package's layout: stages in subpackages, imports one way (docs/architecture.md).

A module may import from its own stage and from the stages before it, never from a later
one; every import counts, also one inside a function or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pilot_eval"
STAGES = (
    "base",
    "plan",
    "data",
    "privacy",
    "analysis",
    "design",
    "report",
    "pipeline",
    "review",
    "interface",
)
"""The stages in the order data flows through them. ``base`` is ``errors`` and
``progress``; ``interface`` is ``api``, ``cli``, ``reference`` and the package itself."""
BASE = {"errors", "progress"}


def stage(module: str) -> str:
    """The stage of a module ``pilot_eval.<...>``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "interface"  # the package itself: __init__ exposes the API
    head = parts[1]
    if head in BASE:
        return "base"
    return head if head in STAGES else "interface"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module of pilot_eval that ``path`` imports, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, m) for line, m in found if m == "pilot_eval" or m.startswith("pilot_eval.")]


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_stage() -> None:
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == {"__init__", "api", "cli", "errors", "progress", "reference"}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders == set(STAGES) - {"base", "interface"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_go_one_way(path: Path) -> None:
    here = STAGES.index(stage(module_name(path)))
    later = [
        f"line {line}: {target} ({stage(target)})"
        for line, target in imports(path)
        if STAGES.index(stage(target)) > here
        and not (target == "pilot_eval" and module_name(path) != "pilot_eval")
    ]
    assert not later, f"{module_name(path)} ({stage(module_name(path))}) imports a later stage"


def test_the_package_itself_is_imported_only_for_its_version() -> None:
    """``from pilot_eval import __version__`` is the one import of the package from below."""
    for path in MODULES:
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "pilot_eval":
                names = {a.name for a in node.names}
                assert names <= {"__version__"} or module_name(path) == "pilot_eval", path


def test_no_two_modules_share_a_name() -> None:
    """A newcomer tells modules apart by name: no file name twice in the package."""
    names = [p.stem for p in MODULES if p.stem != "__init__"]
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not twice


LONGEST = 60
"""Lines of code a function may have, its docstring not counted."""


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    if ast.get_docstring(node) is not None:
        body = body[1:]
    return 0 if not body else body[-1].end_lineno - body[0].lineno + 1  # type: ignore[operator]


def test_long_functions_say_why() -> None:
    """A function longer than LONGEST lines is split into named steps, or its docstring
    says why it is kept whole ("Kept whole: ...")."""
    long = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = _body_lines(node)
                why = "Kept whole:" in (ast.get_docstring(node) or "")
                if lines > LONGEST and not why:
                    long.append(f"{module_name(path)}.{node.name}: {lines} lines")
    assert not long
