"""Reflection matches what sql/ created: every table and view, keys and foreign keys."""

import pytest
import sqlalchemy as sa

from db.catalog import CatalogHolder, NotInCatalog, reflect_catalog

SCHEMAS = ("public", "reporting")


def _pg_relations(engine):
    """(schema, name) -> relkind straight from pg_class."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT n.nspname, c.relname, c.relkind FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = ANY(:s) AND c.relkind IN ('r','p','v','m','f')"
            ),
            {"s": list(SCHEMAS)},
        )
        return {(r[0], r[1]): r[2] for r in rows}


def _pg_constraints(engine, contype):
    """(schema, table) -> set of column tuples of its constraints of one type."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT n.nspname, c.relname,"
                " array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(attnum, i)"
                "       JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum"
                "       ORDER BY u.i) AS cols"
                " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE k.contype = :t AND n.nspname = ANY(:s) AND k.conparentid = 0"
            ),
            {"t": contype, "s": list(SCHEMAS)},
        )
        found = {}
        for schema, table, cols in rows:
            found.setdefault((schema, table), set()).add(tuple(cols))
        return found


def test_every_table_and_view_is_reflected(app, engine):
    catalog = app.extensions["pgfront"].catalogs.current
    expected = _pg_relations(engine)
    assert set(catalog.relations) == set(expected)
    kinds = {key: rel.kind for key, rel in catalog.relations.items()}
    assert kinds[("public", "books")] == "table"
    assert kinds[("public", "overdue_loans")] == "view"
    assert kinds[("public", "book_popularity")] == "materialized view"
    assert kinds[("reporting", "loan_events")] == "partitioned table"
    assert catalog.relations[("reporting", "loan_events_2025")].is_partition


def test_primary_keys_match(app, engine):
    catalog = app.extensions["pgfront"].catalogs.current
    for (schema, table), keys in _pg_constraints(engine, "p").items():
        (key,) = keys
        assert catalog.relation(table, schema).primary_key == key, (schema, table)
    assert catalog.relation("copies").primary_key == ("book_id", "copy_no")
    assert catalog.relation("overdue_loans").primary_key == ()


def test_foreign_keys_match(app, engine):
    catalog = app.extensions["pgfront"].catalogs.current
    for (schema, table), expected in _pg_constraints(engine, "f").items():
        reflected = {
            tuple(col.name for col in fk.columns)
            for fk in catalog.table(table, schema).foreign_key_constraints
        }
        assert reflected == expected, (schema, table)
    self_ref = [
        fk
        for fk in catalog.table("members").foreign_key_constraints
        if fk.referred_table.name == "members"
    ]
    assert len(self_ref) == 1


def test_comments_and_unknown_types_are_kept(app):
    catalog = app.extensions["pgfront"].catalogs.current
    books = catalog.relation("books")
    assert books.comment
    assert books.type_names["search"] == "tsvector"
    assert catalog.relation("members").type_names["email"] == "email_address"


def test_lookup_by_name(app):
    catalog = app.extensions["pgfront"].catalogs.current
    assert catalog.table("reporting.branch_targets").schema == "reporting"
    assert catalog.table("books") is catalog.table("books", "public")
    with pytest.raises(NotInCatalog) as info:
        catalog.relation("no_such_table")
    assert info.value.name == "no_such_table" and info.value.relation is None
    with pytest.raises(NotInCatalog) as info:
        catalog.relation("books").column("nope")
    assert info.value.relation == "public.books"


def test_swap_keeps_old_snapshot_usable(app, engine):
    holder = CatalogHolder(app.extensions["pgfront"].catalogs.current)
    old = holder.current
    new = reflect_catalog(engine, ["reporting"])
    assert holder.swap(new) is old
    assert holder.current is new
    assert old.table("books") is not None  # a request holding the old snapshot still resolves
    assert set(new.schemas) == {"reporting"}


def test_indexes_are_reflected(app):
    catalog = app.extensions["pgfront"].catalogs.current
    loans = catalog.table("loans")
    indexed = {tuple(col.name for col in index.columns) for index in loans.indexes}
    assert {("book_id", "copy_no"), ("member_id",), ("loaned_at",)} <= indexed


def test_tables_by_attribute_and_by_name(app):
    catalog = app.extensions["pgfront"].catalogs.current
    tables = catalog.tables
    assert tables.books is catalog.table("books")
    assert tables["reporting.loan_events"] is catalog.table("reporting.loan_events")
    assert "overdue_loans" in tables and "reporting.branch_targets" in tables
    assert "nothing_here" not in tables and 42 not in tables
    assert len(tables) == len(catalog.relations) and "public.books" in list(tables)
    assert "books" in dir(tables) and "loan_events" not in dir(tables)  # default schema only
    with pytest.raises(AttributeError, match="no table or view 'loan_events' in schema 'public'"):
        _ = tables.loan_events
    with pytest.raises(NotInCatalog):
        _ = tables["reporting.nothing_here"]
    assert catalog.metadata is tables.books.metadata  # a view of the snapshot, not a copy


def test_a_long_chain_of_foreign_keys_reflects(pg_server):
    """Each link nests one reflection in SQLAlchemy: 300 links overflow Python's default limit."""
    engine = sa.create_engine(pg_server.create_database("pgfront_chain"))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                """
                CREATE SCHEMA chain;
                DO $$ BEGIN
                  -- created last-to-first, so each table is listed before the one it references
                  FOR i IN REVERSE 300..1 LOOP
                    EXECUTE 'CREATE TABLE chain.t' || i || ' (id int PRIMARY KEY, next_id int)';
                  END LOOP;
                  FOR i IN 1..299 LOOP
                    EXECUTE 'ALTER TABLE chain.t' || i
                        || ' ADD FOREIGN KEY (next_id) REFERENCES chain.t' || (i + 1);
                  END LOOP;
                END $$;
                """
            )
        catalog = reflect_catalog(engine, ["chain"])
    finally:
        engine.dispose()
    assert len(catalog.relations) == 300
    first = catalog.table("chain.t1")
    assert [fk.column.table.name for fk in first.foreign_keys] == ["t2"]


def test_hiding_a_primary_key_column_is_refused(engine):
    with pytest.raises(ValueError, match="HIDDEN names id of public.branches, part of its primary"):
        reflect_catalog(engine, ["public"], hidden=["public.branches.id"])
