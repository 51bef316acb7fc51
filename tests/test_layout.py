"""The layout rules that code review alone would let slip: who commits.

Core functions never commit; jobs, CLI commands and views own the transaction
(the rule is written in ``outsource_plugin/__init__.py``). A function that must
commit says so in its name, and is listed here.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "outsource_plugin"

#: core functions that commit, each named for it
COMMITS_BY_NAME = {"reconcile_and_commit"}


def core_modules() -> list[Path]:
    """Every module of the core package; the CLI (a runner) and the migrations are not core."""
    return [
        path
        for path in sorted(CORE.rglob("*.py"))
        if not any(part.startswith("cli") or part == "migrations" for part in path.relative_to(CORE).parts)
    ]


def committers(tree: ast.Module) -> set[str]:
    """The names of the functions that call ``.commit(`` (``<module>`` for module level code)."""
    found: set[str] = set()

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit":
            found.add(function)
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def test_core_functions_never_commit() -> None:
    modules = core_modules()
    assert len(modules) > 20, f"the core package was not found under {CORE}"
    found = {
        f"{path.relative_to(CORE).as_posix()}:{name}"
        for path in modules
        for name in committers(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    }
    unnamed = sorted(where for where in found if where.rsplit(":", 1)[1] not in COMMITS_BY_NAME)
    assert unnamed == [], "core functions must leave the commit to the job, CLI command or view that runs them"
    assert {where.rsplit(":", 1)[1] for where in found} == COMMITS_BY_NAME, "a stale entry in COMMITS_BY_NAME"


def test_the_allowed_committers_say_so_in_their_names() -> None:
    assert all(name.endswith("_and_commit") for name in COMMITS_BY_NAME)


def test_the_check_finds_a_commit() -> None:
    source = "def f(s):\n    s.flush()\n\ndef g(s):\n    s.session.commit()\n\nx.commit()\n"
    assert committers(ast.parse(source)) == {"g", "<module>"}
