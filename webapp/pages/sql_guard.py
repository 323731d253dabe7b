"""The SQL page's rule: its login can become no role that could read anything HIDDEN.

A query on the SQL page runs on a connection of its own, logged in as SQL_PAGE_USER (or
the app's login), in a READ ONLY transaction. Whatever the query text, it can act with
the privileges of any role that login may become (`SET ROLE`, `set_config('role', ...)`,
`RESET ROLE`: PostgreSQL only asks that the session's login be a member), so the rule is
checked on that whole set, never on the query text: none of those roles may

- be a superuser, or hold pg_read_server_files, pg_write_server_files or
  pg_execute_server_program, or EXECUTE a server-file function (pg_read_file,
  pg_read_binary_file, pg_ls_dir, pg_stat_file, lo_import, lo_export): always;

and, when HIDDEN names anything in the database, none may

- SELECT a hidden table (any column of it) or a hidden column; nor the inheritance
  children and partitions of a hidden table (they hold its rows), nor its parents (they
  show them); nor a view or materialized view that refers to any of these, at any depth
  (a view over a table with a hidden column counts whole: PostgreSQL does not record
  which columns a whole-row reference reads);
- EXECUTE a SECURITY DEFINER function owned by a role outside the set (it would run
  with privileges the rule did not check);
- read a foreign table or use a foreign server (they read with another login's
  credentials), or hold pg_read_all_stats (it shows every session's query text).

has_table_privilege and friends count ownership, grants to PUBLIC, inherited
memberships and pg_read_all_data. The names (pg_class, pg_attribute) stay readable:
PostgreSQL shows every role the catalogs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from db.hiding import Hiding

_SERVER_FILE_FUNCTIONS = (
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "lo_import",
    "lo_export",
)

_GUARD = sa.text(
    """
WITH RECURSIVE
reach AS (  -- every role the login may become, the login itself included
    SELECT oid, rolname, rolsuper FROM pg_roles WHERE pg_has_role(session_user, oid, 'MEMBER')
),
hidden(relid, col) AS (
    SELECT c.oid, h.col
    FROM unnest(CAST(:schemas AS text[]), CAST(:tables AS text[]), CAST(:columns AS text[]))
        AS h(nsp, tab, col)
    JOIN pg_namespace n ON n.nspname = h.nsp
    JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = h.tab
),
below(relid, col) AS (
    SELECT relid, col FROM hidden
    UNION
    SELECT i.inhrelid, b.col FROM below b JOIN pg_inherits i ON i.inhparent = b.relid
),
above(relid, col) AS (
    SELECT relid, col FROM hidden
    UNION
    SELECT i.inhparent, a.col FROM above a JOIN pg_inherits i ON i.inhrelid = a.relid
),
protected(relid, col) AS (
    SELECT relid, col FROM below
    UNION
    SELECT relid, col FROM above
    UNION
    SELECT w.ev_class, NULL::text
    FROM protected p
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass
        AND d.refclassid = 'pg_class'::regclass AND d.refobjid = p.relid
    JOIN pg_rewrite w ON w.oid = d.objid AND w.ev_class <> p.relid
),
anything_hidden AS (SELECT EXISTS (SELECT 1 FROM hidden) AS yes)
SELECT r.rolname AS role, 'is a superuser' AS reason FROM reach r WHERE r.rolsuper
UNION ALL
SELECT r.rolname, 'reads or writes server files or runs server programs'
FROM reach r
WHERE r.rolname IN ('pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program')
UNION ALL
SELECT r.rolname, 'may execute ' || p.oid::regprocedure::text
FROM reach r
JOIN pg_proc p ON p.pronamespace = 'pg_catalog'::regnamespace
    AND p.proname = ANY(CAST(:file_functions AS text[]))
WHERE has_function_privilege(r.oid, p.oid, 'EXECUTE')
UNION ALL
SELECT r.rolname, 'can read ' || p.relid::regclass::text || coalesce('.' || quote_ident(a.attname), '')
FROM reach r
CROSS JOIN protected p
LEFT JOIN pg_attribute a ON a.attrelid = p.relid AND a.attname = p.col AND NOT a.attisdropped
WHERE CASE WHEN p.col IS NULL THEN has_any_column_privilege(r.oid, p.relid, 'SELECT')
           WHEN a.attnum IS NULL THEN false  -- a child or parent without that column
           ELSE has_column_privilege(r.oid, p.relid, a.attnum, 'SELECT') END
UNION ALL
SELECT r.rolname, 'may execute ' || p.oid::regprocedure::text
    || ', a SECURITY DEFINER function of ' || quote_ident(o.rolname)
FROM reach r
JOIN pg_proc p ON p.prosecdef
JOIN pg_roles o ON o.oid = p.proowner
WHERE (SELECT yes FROM anything_hidden)
    AND p.proowner NOT IN (SELECT oid FROM reach)
    AND has_function_privilege(r.oid, p.oid, 'EXECUTE')
UNION ALL
SELECT r.rolname, 'may use the foreign server ' || quote_ident(s.srvname)
FROM reach r
JOIN pg_foreign_server s ON has_server_privilege(r.oid, s.oid, 'USAGE')
WHERE (SELECT yes FROM anything_hidden)
UNION ALL
SELECT r.rolname, 'can read the foreign table ' || c.oid::regclass::text
FROM reach r
JOIN pg_class c ON c.relkind = 'f' AND has_table_privilege(r.oid, c.oid, 'SELECT')
WHERE (SELECT yes FROM anything_hidden)
UNION ALL
SELECT r.rolname, 'sees the query text of every session'
FROM reach r
WHERE r.rolname = 'pg_read_all_stats' AND (SELECT yes FROM anything_hidden)
LIMIT 1
"""
)

_UNREACHABLE_ROLES = sa.text(
    """
SELECT name FROM unnest(CAST(:roles AS text[])) AS name
WHERE NOT EXISTS (
    SELECT 1 FROM pg_roles WHERE rolname = name AND pg_has_role(session_user, oid, 'MEMBER')
)
"""
)


@dataclass(frozen=True)
class Breach:
    """Why the SQL page may not run: a role its login may become, and what that role can do."""

    login: str
    role: str
    reason: str

    def __str__(self) -> str:
        if self.role == self.login:
            return f"the SQL page's login {self.login!r} {self.reason}"
        return f"the SQL page's login {self.login!r} can become {self.role!r}, which {self.reason}"


def find_breach(connection: sa.Connection, hiding: Hiding) -> Breach | None:
    """The first way this connection's login could read something HIDDEN (or worse), or None.

    hiding is the catalog snapshot's: HIDDEN resolved to today's names, renames followed.
    """
    targets = [(schema, name, None) for schema, name in sorted(hiding.relations)]
    targets += [
        (schema, name, column)
        for (schema, name), names in sorted(hiding.columns.items())
        for column in sorted(names)
    ]
    schemas = [schema for schema, _, _ in targets]
    tables = [name for _, name, _ in targets]
    columns = [column for _, _, column in targets]
    found = connection.execute(
        _GUARD,
        {
            "schemas": schemas,
            "tables": tables,
            "columns": columns,
            "file_functions": list(_SERVER_FILE_FUNCTIONS),
        },
    ).first()
    if found is None:
        return None
    login = connection.execute(sa.text("SELECT session_user")).scalar_one()
    return Breach(login, found.role, found.reason)


def unreachable_roles(connection: sa.Connection, roles: Iterable[str]) -> list[str]:
    """The roles among these that this connection's login may not become."""
    return list(connection.execute(_UNREACHABLE_ROLES, {"roles": list(roles)}).scalars())
