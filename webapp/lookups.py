"""Fetch-or-404 for hand-written views: get_or_404, first_or_404, one_or_404.

They run through the scoped Session and raise ApiError(404), so a miss answers JSON
under /api and an HTML page elsewhere, like every other error of the app. A statement
that selects one mapped class gives objects; any other statement gives Rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from db.catalog import Relation
from db.session import Session

from .errors import ApiError
from .state import current_catalog


def get_or_404(target: Any, key: Any, *, description: str | None = None) -> Any:
    """The row (or object) with this primary key, else a 404.

    target: a reflected Table, a Relation (its served columns), a table name
    ("books", "reporting.loan_events") or an automap class. key: the value of a
    one-column key, a tuple in key order, or a dict by column name.
    """
    if isinstance(target, type):  # an automap (or any mapped) class
        found = Session.get(target, key)
        if found is None:
            raise ApiError(404, description or f"no {target.__name__} has key {key!r}")
        return found
    relation = current_catalog().relation(target) if isinstance(target, str) else target
    table = relation.table if isinstance(relation, Relation) else relation
    columns = relation.columns if isinstance(relation, Relation) else list(table.columns)
    where = key_clause(table, key)
    row = Session.execute(sa.select(*columns).where(where).limit(1)).first()
    if row is None:
        raise ApiError(404, description or f"no row of {_name(table)} has {_key_text(table, key)}")
    return row


def first_or_404(statement: sa.Executable, *, description: str | None = None) -> Any:
    """The first row (or object) of the statement, else a 404; adds LIMIT 1 when it has no limit."""
    if isinstance(statement, sa.Select) and not has_limit(statement):
        statement = statement.limit(1)
    found = rows_of(Session.execute(statement), statement).first()
    if found is None:
        raise ApiError(404, description or "nothing matches")
    return found


def one_or_404(statement: sa.Executable, *, description: str | None = None) -> Any:
    """The one row (or object) of the statement: a 404 for none, MultipleResultsFound for several.

    Several rows mean the view's query is wrong, not that the client asked for something
    missing: the error propagates and is a logged 500 (Flask-SQLAlchemy answers 404).
    """
    if isinstance(statement, sa.Select) and not has_limit(statement):
        statement = statement.limit(2)  # enough to tell one from several
    found = rows_of(Session.execute(statement), statement).one_or_none()
    if found is None:
        raise ApiError(404, description or "nothing matches")
    return found


def rows_of(result: sa.Result, statement: sa.Executable) -> sa.Result | sa.ScalarResult:
    """Objects for a statement selecting one mapped class (each once), else the Rows."""
    return result.unique().scalars() if selects_one_entity(statement) else result


def selects_one_entity(statement: sa.Executable) -> bool:
    """True for select(SomeClass): one column description, and it is the class itself."""
    descriptions = getattr(statement, "column_descriptions", None) or []
    if len(descriptions) != 1:
        return False
    entity = descriptions[0].get("entity")
    return entity is not None and descriptions[0].get("expr") is entity


def has_limit(statement: sa.Select) -> bool:
    """True when the statement already has a LIMIT or FETCH (ours must not replace it)."""
    # No public accessor exists; these are the attributes Select.limit() and .fetch() set.
    return statement._limit_clause is not None or statement._fetch_clause is not None


def key_clause(table: sa.Table, key: Any) -> sa.ColumnElement[bool]:
    """WHERE primary key = key; TypeError when key does not fit the table's primary key."""
    names = [column.name for column in table.primary_key.columns]
    if not names:
        raise TypeError(f"{_name(table)} has no primary key")
    if isinstance(key, Mapping):
        if set(key) != set(names):
            raise TypeError(f"{_name(table)} is keyed by {', '.join(names)}, not {', '.join(key)}")
        values = [key[name] for name in names]
    elif isinstance(key, tuple | list):
        values = list(key)
    else:
        values = [key]
    if len(values) != len(names):
        raise TypeError(f"{_name(table)} is keyed by {len(names)} columns: {', '.join(names)}")
    return sa.and_(*(table.c[name] == value for name, value in zip(names, values, strict=True)))


def _key_text(table: sa.Table, key: Any) -> str:
    """The key as a user would write it: id=7, or book_id=..., copy_no=1."""
    names = [column.name for column in table.primary_key.columns]
    if isinstance(key, Mapping):
        values = [key[name] for name in names]
    else:
        values = list(key) if isinstance(key, tuple | list) else [key]
    return ", ".join(f"{name}={value}" for name, value in zip(names, values, strict=True))


def _name(table: sa.Table) -> str:
    """schema.name of a table."""
    return table.fullname
