"""The layout of webapp/: the Flask-free pipeline, the public import paths, no dead code."""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = sorted(
    p.stem for p in (ROOT / "webapp" / "pipeline").glob("*.py") if p.stem != "__init__"
)

# Imports one module with webapp/__init__.py (the app factory, which is Flask) stubbed out, so
# only what the module itself pulls in is loaded; prints the Flask-family modules it loaded.
_IMPORT_ALONE = """
import importlib, sys, types
package = types.ModuleType("webapp")
package.__path__ = [sys.argv[1]]
sys.modules["webapp"] = package
importlib.import_module(sys.argv[2])
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("flask", "werkzeug", "jinja2"))))
"""

# The paths README.md gives the team's code; they stay where they are whatever moves inside.
PUBLIC = {
    "webapp": ["create_app"],
    "db.session": ["Session"],
    "webapp.lookups": ["get_or_404", "first_or_404", "one_or_404"],
    "webapp.paging": ["paginate", "Pagination"],
    "webapp.databases": ["database"],
    "webapp.models": ["current_models"],
    "webapp.errors": ["json_errors", "ApiError"],
    "webapp.encoding": ["json_response"],
    "webapp.recording": ["get_recorded_queries"],
    "webapp.state": ["current_catalog"],
}


def test_the_pipeline_folder_holds_parse_plan_sql_fetch_and_the_values():
    assert {"grammar", "reads", "plan", "statement", "fetch", "cursors", "values"} <= set(PIPELINE)


@pytest.mark.parametrize("name", PIPELINE)
def test_a_pipeline_module_imports_no_flask(name):
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALONE, str(ROOT / "webapp"), f"webapp.pipeline.{name}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert done.stdout.strip() == "", f"webapp/pipeline/{name}.py loads {done.stdout.strip()}"


def _imported_packages(path: Path) -> set[str]:
    """The webapp packages a module imports, as dotted names (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(part for part in (base, node.module) if part)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize(("front", "other"), [("api", "pages"), ("pages", "api")])
def test_the_api_and_the_pages_do_not_import_each_other(front, other):
    crossing = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in _imported_packages(path)
            if name == f"webapp.{other}" or name.startswith(f"webapp.{other}.")
        )
        for path in sorted((ROOT / "webapp" / front).glob("*.py"))
    }
    assert {path: names for path, names in crossing.items() if names} == {}, (
        f"webapp/{front} reaches into webapp/{other}: move the shared piece to webapp/app/ "
        "or webapp/pipeline/"
    )


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_the_public_import_paths_stay(module):
    imported = importlib.import_module(module)
    assert [name for name in PUBLIC[module] if not hasattr(imported, name)] == []
    assert importlib.import_module("webapp.views").__path__  # the team's views package


def test_no_dead_code():
    vulture = shutil.which("vulture", path=str(Path(sys.executable).parent)) or "vulture"
    done = subprocess.run(
        [
            vulture,
            "webapp",
            "db",
            "run.py",
            "tests/vulture_allowlist.py",
            "--min-confidence=60",
            "--ignore-decorators=@app.*,@bp.*",  # Flask's views, hooks and CLI commands
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.stdout == "", (
        "dead code (or add the name to tests/vulture_allowlist.py):\n" + done.stdout
    )
    assert done.returncode == 0, done.stderr
