"""The team's own views: the blueprints create_app() registers besides pgfront's.

They come from three places, in this order, each blueprint once:

1. webapp/views/: every Blueprint a module there defines at module level (modules in
   name order; a module or a name starting with `_` is left alone);
2. the BLUEPRINTS setting: `module:attribute` entries naming blueprints of other
   packages (`myteam.reports:bp`), in the order given;
3. create_app(blueprints=[...]): Blueprint objects.

They are imported before anything connects, and a module that does not import, an entry
that names no Blueprint, or a blueprint name already taken stops startup with one line
naming it (a ConfigError, which run.py prints as it prints a bad setting).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import traceback
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from flask import Blueprint, Flask

from db.engine import first_line

from ..config import ConfigError

log = logging.getLogger("webapp")

VIEWS_PACKAGE = "webapp.views"
_IMPORT_MACHINERY = (str(Path(importlib.__file__).parent), __file__)


class TeamViewError(ConfigError):
    """A team view that cannot be loaded: like a bad setting, it stops startup with one line."""


def load(entries: Iterable[str], given: Iterable[Blueprint] = ()) -> list[Blueprint]:
    """The team's blueprints: webapp/views/'s, then BLUEPRINTS' entries, then the given ones."""
    found = [*package_blueprints(VIEWS_PACKAGE), *map(blueprint_at, entries), *given]
    return list(dict.fromkeys(found))  # a blueprint one module imports from another: once


def register(app: Flask, blueprints: Iterable[Blueprint]) -> None:
    """Register the team's blueprints after pgfront's; a name already taken stops startup."""
    for blueprint in blueprints:
        try:
            app.register_blueprint(blueprint)
        except ValueError as exc:  # Flask's "The name 'api' is already registered ..."
            raise TeamViewError(
                f"team view blueprint {blueprint.name!r} of {blueprint.import_name} "
                f"cannot be registered: {exc}"
            ) from exc
        log.debug(
            "team view %s (%s) at %s", blueprint.name, blueprint.import_name, blueprint.url_prefix
        )


def package_blueprints(package_name: str) -> list[Blueprint]:
    """Every Blueprint the public modules of a package define at module level, by module name."""
    package = importlib.import_module(package_name)
    found: list[Blueprint] = []
    for name in sorted(info.name for info in pkgutil.iter_modules(package.__path__)):
        if name.startswith("_"):
            continue
        module_name = f"{package_name}.{name}"
        module = _import(module_name, f"team view module {module_name}")
        found.extend(
            value
            for key, value in vars(module).items()
            if isinstance(value, Blueprint) and not key.startswith("_")
        )
    return found


def blueprint_at(entry: str) -> Blueprint:
    """The Blueprint a BLUEPRINTS entry names: `myteam.reports:bp`."""
    module_name, _, attribute = entry.partition(":")
    module = _import(module_name, f"BLUEPRINTS entry {entry!r}")
    found = getattr(module, attribute, None)
    if found is None:
        raise TeamViewError(f"BLUEPRINTS entry {entry!r}: no Blueprint {attribute!r}")
    if not isinstance(found, Blueprint):
        kind = type(found).__name__
        raise TeamViewError(f"BLUEPRINTS entry {entry!r} is a {kind}, not a Blueprint")
    return found


def _import(module_name: str, what: str) -> ModuleType:
    """Import a module; any failure becomes one line naming what was imported, the error and where."""
    try:
        return importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - whatever a team's module raises, startup stops here
        raise TeamViewError(
            f"{what} does not import: {type(exc).__name__}: {first_line(exc)}{_where(exc)}"
        ) from exc


def _where(exc: Exception) -> str:
    """` (reports.py, line 3)`: the deepest line of the failure outside the import machinery."""
    if isinstance(exc, SyntaxError):
        return ""  # its message names the file and line already
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(("<", *_IMPORT_MACHINERY))
    ]
    if not frames:
        return ""
    return f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})"
