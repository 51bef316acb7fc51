"""The built wheel: one import namespace, every data file, the entry points and the requirements."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "outsource_plugin"
#: the oldest supported version of each install requirement; make test runs the in-process tier on them
OLDEST_VERSIONS = REPO_ROOT / "tests" / "oldest-versions.txt"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            str(out),
            str(REPO_ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    built = sorted(out.glob("outsource_plugin-*.whl"))
    assert len(built) == 1, built
    return built[0]


@pytest.fixture(scope="module")
def names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def _dist_info(names: list[str]) -> str:
    folders = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
    assert len(folders) == 1, folders
    return folders.pop()


def _read(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(name).decode("utf-8")


def _metadata(wheel: Path, names: list[str]) -> Message:
    return Parser().parsestr(_read(wheel, f"{_dist_info(names)}/METADATA"))


def test_only_top_level_package_is_outsource_plugin(names: list[str]) -> None:
    dist_info = _dist_info(names)
    assert dist_info.startswith("outsource_plugin-")
    stray = [n for n in names if not (n.startswith(f"{PACKAGE}/") or n.startswith(f"{dist_info}/"))]
    assert stray == []
    assert {n.split("/", 1)[0] for n in names} == {PACKAGE, dist_info}


def test_top_level_txt_names_only_the_package(wheel: Path, names: list[str]) -> None:
    top_level = f"{_dist_info(names)}/top_level.txt"
    if top_level in names:
        assert _read(wheel, top_level).split() == [PACKAGE]


@pytest.mark.parametrize(
    "subpackage",
    ["adapters", "blueprints", "jobs", "cli", "core", "db", "federation", "host", "ops", "sync", "validation"],
)
def test_subpackages_are_inside_the_namespace(names: list[str], subpackage: str) -> None:
    assert f"{PACKAGE}/{subpackage}/__init__.py" in names
    modules = [n for n in names if n.startswith(f"{PACKAGE}/{subpackage}/") and n.endswith(".py")]
    assert len(modules) > 1


def test_key_modules_are_packaged(names: list[str]) -> None:
    for module in (
        "__init__.py",
        "extension.py",
        "adapters/memory.py",
        "adapters/registry.py",
        "blueprints/api.py",
        "blueprints/fragments.py",
        "jobs/scheduler.py",
    ):
        assert f"{PACKAGE}/{module}" in names, module


def test_templates_and_static_files_are_packaged(names: list[str]) -> None:
    templates = REPO_ROOT / "blueprints" / "templates" / "outsource"
    static = REPO_ROOT / "blueprints" / "static" / "outsource"
    expected_templates = sorted(p.name for p in templates.glob("*.html"))
    expected_static = sorted(p.name for p in static.iterdir() if p.is_file())
    assert {"bar.html", "menu.html", "error.html"} <= set(expected_templates)
    assert expected_static

    prefix = f"{PACKAGE}/blueprints/templates/outsource/"
    packaged_templates = sorted(n[len(prefix) :] for n in names if n.startswith(prefix))
    assert packaged_templates == expected_templates

    prefix = f"{PACKAGE}/blueprints/static/outsource/"
    packaged_static = sorted(n[len(prefix) :] for n in names if n.startswith(prefix))
    assert packaged_static == expected_static


def test_py_typed_marker(names: list[str]) -> None:
    assert f"{PACKAGE}/py.typed" in names


def test_entry_points_declare_memory_adapter(wheel: Path, names: list[str]) -> None:
    text = _read(wheel, f"{_dist_info(names)}/entry_points.txt")
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = groups.setdefault(line[1:-1].strip(), {})
            continue
        assert current is not None, line
        name, _, value = line.partition("=")
        current[name.strip()] = value.strip()
    assert "outsource_plugin.adapters" in groups
    assert groups["outsource_plugin.adapters"].get("memory") == "outsource_plugin.adapters.memory:MemoryAdapter"


def test_requires_dist(wheel: Path, names: list[str]) -> None:
    metadata = _metadata(wheel, names)
    requirements = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    base = {r.name.lower(): r for r in requirements if r.marker is None}

    assert "flask" in base
    assert base["flask"].specifier.contains("2.3.2")
    assert not base["flask"].specifier.contains("2.2.5")

    assert "sqlalchemy" in base
    assert base["sqlalchemy"].specifier.contains("2.0")
    assert not base["sqlalchemy"].specifier.contains("1.4.52")

    assert "apscheduler" in base
    assert base["apscheduler"].specifier.contains("3.10.4")
    assert not base["apscheduler"].specifier.contains("4.0")
    assert not base["apscheduler"].specifier.contains("4.0.0a5", prereleases=True)


def test_extras_postgres_and_dev(wheel: Path, names: list[str]) -> None:
    metadata = _metadata(wheel, names)
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert {"postgres", "dev"} <= extras

    requirements = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]

    def extra_requirements(extra: str) -> set[str]:
        return {r.name.lower() for r in requirements if r.marker is not None and r.marker.evaluate({"extra": extra})}

    assert "psycopg" in extra_requirements("postgres")
    assert {"pytest", "ruff"} <= extra_requirements("dev")
    # extras do not leak into the base install
    assert "psycopg" not in {r.name.lower() for r in requirements if r.marker is None}
    assert "pytest" not in {r.name.lower() for r in requirements if r.marker is None}


def test_migrations_are_packaged(names: list[str]) -> None:
    migrations = REPO_ROOT / "outsource_plugin" / "db" / "migrations"
    expected = sorted(str(p.relative_to(migrations)) for p in migrations.rglob("*") if p.suffix in {".py", ".mako"})
    assert {"env.py", "script.py.mako", "versions/0001_initial.py"} <= set(expected)
    prefix = f"{PACKAGE}/db/migrations/"
    assert sorted(n[len(prefix) :] for n in names if n.startswith(prefix)) == expected


def test_declared_minimums_are_the_tested_versions(wheel: Path, names: list[str]) -> None:
    """Each install requirement's lower bound is exactly the version that ``make test`` pins in the
    oldest-versions venv, so a declared minimum is never a version that no test ran on. A dev
    requirement pinned there (what a test host of the oldest tier runs on) is pinned at its bound too."""
    requirements = [Requirement(r) for r in _metadata(wheel, names).get_all("Requires-Dist") or []]
    declared: dict[str, str] = {}
    for requirement in (r for r in requirements if r.marker is None):
        lower = [s.version for s in requirement.specifier if s.operator == ">="]
        assert len(lower) == 1, f"{requirement} needs exactly one >= lower bound"
        declared[requirement.name.lower()] = lower[0]

    pinned: dict[str, str] = {}
    for raw in OLDEST_VERSIONS.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            pin = Requirement(line)
            (spec,) = pin.specifier
            assert spec.operator == "==", line
            pinned[pin.name.lower()] = spec.version
    dev = {
        r.name.lower(): [s.version for s in r.specifier if s.operator == ">="]
        for r in requirements
        if r.marker is not None and r.marker.evaluate({"extra": "dev"})
    }
    pinned_dev = {name: version for name, version in pinned.items() if name in dev}
    assert {name: [version] for name, version in pinned_dev.items()} == {name: dev[name] for name in pinned_dev}
    assert {name: version for name, version in pinned.items() if name not in dev} == declared
