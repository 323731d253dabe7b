"""The structure page of a table or view, and the schema page with its diagram.

Facts come from pg_catalog at request time, looked up by the relation's oid (found by
name, as bound parameters). Hidden columns (HIDDEN) never appear: they are left out of
the column list, and every key, constraint, index and trigger that uses one (in its
columns, expression or predicate, as pg_depend records it) is left out whole, since its
definition would name the column. A view that has hidden columns, or reads a hidden table
or column, does not show its SQL.
Foreign keys to or from hidden relations (a hidden table's partitions and inheritance
children included) are left out too, and so are partition bounds where columns are hidden.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, render_template
from markupsafe import Markup

from db.catalog import Catalog, NotInCatalog, Relation
from db.session import Session

from ..app.responses import page_or_twin, wants_twin
from ..app.urls import structure_url, table_url
from ..errors import ApiError
from ..pipeline.counts import statistics_count
from ..pipeline.matviews import refresh_statement
from ..state import current_catalog
from .diagram import Drawing, layout, render_svg, schema_drawing

bp = Blueprint("structure", __name__)

_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_CONSTRAINT_TYPES = {"u": "unique", "c": "check", "x": "exclusion"}

_RELATION_SQL = sa.text(
    """
    SELECT c.oid, c.relkind, obj_description(c.oid, 'pg_class') AS comment,
           CASE WHEN c.relkind IN ('v', 'f') THEN NULL
                WHEN c.relkind = 'p'  -- a partitioned table's data is in its partitions
                THEN (SELECT sum(pg_total_relation_size(relid))::bigint FROM pg_partition_tree(c.oid))
                ELSE pg_total_relation_size(c.oid) END AS size_bytes,
           CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS view_sql,
           pg_get_expr(c.relpartbound, c.oid) AS bound,
           c.relkind = 'm' AND NOT c.relispopulated AS unpopulated  -- WITH NO DATA, never refreshed
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema AND c.relname = :name
    """
)

_COLUMNS_SQL = sa.text(
    """
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
           NOT a.attnotnull AS nullable,
           CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default,
           CASE WHEN a.attidentity = 'a' THEN 'ALWAYS AS IDENTITY'
                WHEN a.attidentity = 'd' THEN 'BY DEFAULT AS IDENTITY'
                WHEN a.attgenerated <> '' THEN 'ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid)
                     || CASE a.attgenerated WHEN 's' THEN ') STORED' ELSE ') VIRTUAL' END
           END AS generated,
           col_description(a.attrelid, a.attnum) AS comment
    FROM pg_attribute a
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = :oid AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum
    """
)

# Own keys and constraints; a foreign key cloned onto this table for each partition of the
# table it references (its parent constraint is on this same table) is left out.
_CONSTRAINTS_SQL = sa.text(
    """
    SELECT con.conname AS name, con.contype AS type,
           pg_get_constraintdef(con.oid, true) AS definition,
           ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = con.conrelid
                 AND attnum = ANY(con.conkey) ORDER BY array_position(con.conkey, attnum)) AS columns,
           fn.nspname AS ref_schema, fc.relname AS ref_name,
           ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = con.confrelid
                 AND attnum = ANY(con.confkey) ORDER BY array_position(con.confkey, attnum)) AS ref_columns,
           con.confdeltype AS on_delete, con.confupdtype AS on_update
    FROM pg_constraint con
    LEFT JOIN pg_class fc ON fc.oid = con.confrelid
    LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
    WHERE con.conrelid = :oid AND con.contype IN ('p', 'u', 'f', 'c', 'x')
      AND NOT EXISTS (SELECT 1 FROM pg_constraint parent
                      WHERE parent.oid = con.conparentid AND parent.conrelid = con.conrelid)
    ORDER BY con.contype, con.conname
    """
)

# Foreign keys of other tables that point here; copies made for partitions are left out.
_REFERENCED_BY_SQL = sa.text(
    """
    SELECT con.conname AS name, n.nspname AS schema, c.relname AS table,
           ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = con.conrelid
                 AND attnum = ANY(con.conkey) ORDER BY array_position(con.conkey, attnum)) AS columns,
           ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = con.confrelid
                 AND attnum = ANY(con.confkey) ORDER BY array_position(con.confkey, attnum)) AS ref_columns,
           con.confdeltype AS on_delete, con.confupdtype AS on_update
    FROM pg_constraint con
    JOIN pg_class c ON c.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE con.confrelid = :oid AND con.contype = 'f' AND con.conparentid = 0
    ORDER BY n.nspname, c.relname, con.conname
    """
)

# An index's or trigger's columns: its key (or UPDATE OF) columns plus those pg_depend
# records for its expressions, predicate or WHEN clause.
_INDEXES_SQL = sa.text(
    """
    SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
           i.indisunique AS unique, i.indisprimary AS primary,
           ARRAY(SELECT a.attname FROM pg_attribute a
                 WHERE a.attrelid = i.indrelid AND a.attnum > 0
                   AND (a.attnum = ANY(i.indkey) OR EXISTS (
                        SELECT FROM pg_depend d
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                          AND d.refobjid = i.indrelid AND d.refobjsubid = a.attnum))) AS columns
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = :oid
    ORDER BY ic.relname
    """
)

_TRIGGERS_SQL = sa.text(
    """
    SELECT t.tgname AS name, pg_get_triggerdef(t.oid, true) AS definition,
           t.tgenabled <> 'D' AS enabled,
           ARRAY(SELECT a.attname FROM pg_attribute a
                 WHERE a.attrelid = t.tgrelid AND a.attnum > 0
                   AND (a.attnum = ANY(t.tgattr) OR EXISTS (
                        SELECT FROM pg_depend d
                        WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid
                          AND d.refobjid = t.tgrelid AND d.refobjsubid = a.attnum))) AS columns
    FROM pg_trigger t
    WHERE t.tgrelid = :oid AND NOT t.tgisinternal
    ORDER BY t.tgname
    """
)

# Partitions of this table (child) or the table this one is a partition of (parent).
_PARTITIONS_SQL = sa.text(
    """
    SELECT 'child' AS side, n.nspname AS schema, c.relname AS name,
           pg_get_expr(c.relpartbound, c.oid) AS bound
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE i.inhparent = :oid AND c.relispartition
    UNION ALL
    SELECT 'parent', n.nspname, c.relname, NULL
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_class me ON me.oid = i.inhrelid
    WHERE i.inhrelid = :oid AND me.relispartition
    ORDER BY 1, 2, 3
    """
)


# What a view's query reads: the relations and columns its rewrite rule depends on.
_VIEW_READS_SQL = sa.text(
    """
    SELECT DISTINCT n.nspname AS schema, c.relname AS name, a.attname AS column
    FROM pg_rewrite r
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                    AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
    JOIN pg_class c ON c.oid = d.refobjid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                            AND d.refobjsubid > 0
    WHERE r.ev_class = :oid
    """
)


def _view_sql(catalog: Catalog, facts: sa.Row, relation: Relation) -> str | None:
    """A view's SQL, unless it would name something HIDDEN (its own columns, or what it reads)."""
    if facts.view_sql is None or relation.hidden:
        return None
    for row in Session.execute(_VIEW_READS_SQL, {"oid": facts.oid}):
        if catalog.hiding.hides(row.schema, row.name, [row.column] if row.column else []):
            return None
    return facts.view_sql


def describe(catalog: Catalog, relation: Relation) -> dict[str, Any]:
    """Everything the structure page shows, as one JSON-ready dict (page and twin render it)."""
    facts = Session.execute(
        _RELATION_SQL, {"schema": relation.schema, "name": relation.name}
    ).one_or_none()
    if facts is None:  # dropped since the catalog was reflected
        raise NotInCatalog(relation.name, relation.schema)
    oid, hidden = {"oid": facts.oid}, relation.hidden
    keys = [row for row in Session.execute(_CONSTRAINTS_SQL, oid) if not hidden & set(row.columns)]
    primary = next((row for row in keys if row.type == "p"), None)
    columns = [dict(row._mapping) for row in Session.execute(_COLUMNS_SQL, oid)]
    return {
        "schema": relation.schema,
        "name": relation.name,
        "kind": relation.kind,
        "comment": facts.comment,
        "columns": [column for column in columns if column["name"] not in hidden],
        "primary_key": {"name": primary.name, "columns": primary.columns} if primary else None,
        "foreign_keys": _foreign_keys(catalog, keys),
        "referenced_by": _referenced_by(
            catalog, relation, Session.execute(_REFERENCED_BY_SQL, oid)
        ),
        "constraints": [
            {"name": row.name, "type": _CONSTRAINT_TYPES[row.type], "definition": row.definition}
            for row in keys
            if row.type in _CONSTRAINT_TYPES
        ],
        "indexes": _used_rows(
            _INDEXES_SQL, oid, hidden, ("name", "definition", "unique", "primary")
        ),
        "triggers": _used_rows(_TRIGGERS_SQL, oid, hidden, ("name", "definition", "enabled")),
        "view_sql": _view_sql(catalog, facts, relation),
        "unpopulated": refresh_statement(relation) if facts.unpopulated else None,
        "size_bytes": facts.size_bytes,
        "estimated_rows": statistics_count(Session.connection(), relation),
        **_partitioning(catalog, relation, facts),
    }


def _used_rows(
    stmt: sa.TextClause, params: dict, hidden: frozenset[str], keys: tuple[str, ...]
) -> list[dict]:
    """Rows of an index or trigger query, without those that use a hidden column."""
    return [
        {key: getattr(row, key) for key in keys}
        for row in Session.execute(stmt, params)
        if not hidden & set(row.columns)
    ]


def _foreign_keys(catalog: Catalog, keys: list[sa.Row]) -> list[dict]:
    """Outgoing foreign keys, each with a link to the table it references when that is served."""
    found = []
    for row in keys:
        if row.type != "f" or not _served_columns(
            catalog, row.ref_schema, row.ref_name, row.ref_columns
        ):
            continue
        found.append(
            {
                "name": row.name,
                "columns": row.columns,
                "schema": row.ref_schema,
                "table": row.ref_name,
                "ref_columns": row.ref_columns,
                "on_delete": _ACTIONS.get(row.on_delete),
                "on_update": _ACTIONS.get(row.on_update),
                "url": _table_url(catalog, row.ref_schema, row.ref_name),
            }
        )
    return found


def _referenced_by(catalog: Catalog, relation: Relation, rows: sa.Result) -> list[dict]:
    """Incoming foreign keys over served columns, from relations that are not hidden."""
    found = []
    for row in rows:
        if relation.hidden & set(row.ref_columns):
            continue
        if not _served_columns(catalog, row.schema, row.table, row.columns):
            continue
        found.append(
            {
                "name": row.name,
                "schema": row.schema,
                "table": row.table,
                "columns": row.columns,
                "ref_columns": row.ref_columns,
                "on_delete": _ACTIONS.get(row.on_delete),
                "on_update": _ACTIONS.get(row.on_update),
                "url": _table_url(catalog, row.schema, row.table),
            }
        )
    return found


def _served_columns(catalog: Catalog, schema: str, name: str, columns: list[str]) -> bool:
    """False when HIDDEN hides the relation (or a parent of it) or any of these columns of it."""
    return not catalog.hiding.hides(schema, name, columns)


def _partitioning(catalog: Catalog, relation: Relation, facts: sa.Row) -> dict[str, Any]:
    """The partitions of a partitioned table, or the table a partition belongs to and its bound.

    With hidden columns, no bounds: the partition key may be one of them, and a bound shows
    which of its values each partition holds.
    """
    shown = not relation.hidden
    rows = [
        row
        for row in Session.execute(_PARTITIONS_SQL, {"oid": facts.oid})
        if not catalog.hiding.hides(row.schema, row.name)
    ]
    parent = next((row for row in rows if row.side == "parent"), None)
    return {
        "partitions": [
            {
                "schema": row.schema,
                "name": row.name,
                "bound": row.bound if shown else None,
                "url": _table_url(catalog, row.schema, row.name),
            }
            for row in rows
            if row.side == "child"
        ],
        "partition_of": {
            "schema": parent.schema,
            "name": parent.name,
            "bound": facts.bound if shown else None,
            "url": _table_url(catalog, parent.schema, parent.name),
        }
        if parent
        else None,
    }


def _table_url(catalog: Catalog, schema: str, name: str) -> str | None:
    """The table page of a served relation, None for one that is not served."""
    if (schema, name) not in catalog.relations:
        return None
    return table_url(schema, name)


def _answer(data: dict, template: str, **context: Any) -> Response:
    """The JSON twin or the HTML page of the same data."""
    return page_or_twin(lambda: data, lambda: render_template(template, data=data, **context))


@bp.get("/browse/<schema>/<name>/structure")
def structure_page(schema: str, name: str) -> Response:
    """Columns, keys, constraints, indexes, triggers, view SQL and size of one relation."""
    catalog = current_catalog()
    relation = catalog.relation(name, schema)
    return _answer(describe(catalog, relation), "structure.html")


def _served_schema(schema: str) -> Catalog:
    """The catalog, after checking that schema is one it serves (else a 404)."""
    catalog = current_catalog()
    if schema not in catalog.schemas:
        raise ApiError(
            404,
            f"schema {schema!r} is not served",
            code="PGRST106",
            hint="the index lists the schemas that are",
        )
    return catalog


def schema_summary(catalog: Catalog, schema: str, drawing: Drawing) -> dict[str, Any]:
    """The schema page's facts: its relations and the foreign keys the diagram draws."""
    relations = [
        {
            "name": rel.name,
            "kind": rel.kind,
            "is_partition": rel.is_partition,
            "url": table_url(schema, rel.name),
            "structure_url": structure_url(schema, rel.name),
        }
        for rel in catalog.in_schema(schema)
    ]
    edges = [
        {
            "from": link.source[1],
            "from_columns": list(link.source_columns),
            "to": link.target[1],
            "to_schema": link.target[0],
            "to_columns": list(link.target_columns),
        }
        for link in drawing.links
    ]
    return {"schema": schema, "relations": relations, "edges": edges, "not_drawn": drawing.omitted}


def _svg(schema: str, drawing: Drawing) -> Markup:
    """The schema's diagram as SVG markup."""
    title = f"Tables of schema {schema} and their foreign keys"
    return render_svg(layout(drawing.boxes, drawing.links, title, drawing.omitted))


@bp.get("/schema/<schema>")
def schema_page(schema: str) -> Response:
    """A schema's relations and its diagram, whose boxes link to the tables."""
    catalog = _served_schema(schema)
    drawing = schema_drawing(catalog, schema, table_url)  # a box links to its table page
    data = schema_summary(catalog, schema, drawing)
    svg = None if wants_twin() else _svg(schema, drawing)
    return _answer(data, "schema.html", svg=svg)


@bp.get("/schema/<schema>/diagram.svg")
def schema_diagram(schema: str) -> Response:
    """The schema diagram alone, as an SVG document."""
    drawing = schema_drawing(_served_schema(schema), schema, table_url)
    document = '<?xml version="1.0" encoding="UTF-8"?>\n' + str(_svg(schema, drawing))
    return Response(document, mimetype="image/svg+xml")
