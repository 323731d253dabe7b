"""Materialized views never populated (`WITH NO DATA`): recognising the error, naming the fix.

PostgreSQL refuses to read such a view (SQLSTATE 55000, "materialized view "x" has not
been populated") until `REFRESH MATERIALIZED VIEW` runs. The API keeps PostgREST's status
for it and names the statement in its hint; the pages show the columns with a note saying
the same. The error names the view without its schema, so the statement is built from the
catalog's view of that name: only a served view is named.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from db.catalog import Catalog, Relation

NOT_POPULATED = "55000"  # object_not_in_prerequisite_state
_MESSAGE = re.compile(r'^materialized view "(?P<name>.*)" has not been populated$')
_QUOTING = postgresql.dialect().identifier_preparer


def refresh_statement(relation: Relation) -> str:
    """`REFRESH MATERIALIZED VIEW` with the view's schema-qualified name, quoted as needed."""
    return "REFRESH MATERIALIZED VIEW " + _QUOTING.format_table(relation.table)


def unpopulated_refresh(
    error: sa.exc.DBAPIError, catalog: Catalog, reading: Relation | None = None
) -> str | None:
    """The statement that fills the view an error says is unpopulated; None for other errors.

    reading, the relation the request reads, wins when several served schemas have a
    materialized view of the name the error gives.
    """
    if getattr(error.orig, "sqlstate", None) != NOT_POPULATED:
        return None
    match = _MESSAGE.match(error.orig.diag.message_primary or "")
    if match is None:
        return None
    views = [
        relation
        for relation in catalog.relations.values()
        if relation.name == match["name"] and relation.kind == "materialized view"
    ]
    if reading in views:
        return refresh_statement(reading)
    if len(views) == 1:
        return refresh_statement(views[0])
    return "REFRESH MATERIALIZED VIEW"  # not served (or ambiguous): the message names it


def refresh_hint(statement: str) -> str:
    """The hint of an API error about an unpopulated view."""
    return f"it was created WITH NO DATA or never refreshed: {statement} fills it"
