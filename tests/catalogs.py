"""Catalogs built in a test, without a database: the pipeline's unit tests plan reads on them."""

from __future__ import annotations

import sqlalchemy as sa

from db.catalog import Catalog, Relation


def catalog_of(
    *tables: sa.Table,
    hidden: dict[str, frozenset[str]] | None = None,
    views: dict[str, dict[str, tuple[str, str, str]]] | None = None,
) -> Catalog:
    """A catalog of tables (and views: name -> {column: (schema, table, column) it shows})."""
    hidden = hidden or {}
    views = views or {}
    relations = {
        ("s", table.name): Relation(
            table,
            "view" if table.name in views else "table",
            hidden=hidden.get(table.name, frozenset()),
        )
        for table in tables
    }
    view_columns = {("s", name): shown for name, shown in views.items()}
    return Catalog(
        ("s",),
        relations,
        tables[0].metadata,
        loaded_at=0.0,
        load_seconds=0.0,
        view_columns=view_columns,
    )


def library() -> tuple[sa.Table, ...]:
    """authors -< books; books -< copies; a profile one-to-one with members; a junction."""
    md = sa.MetaData()
    authors = sa.Table("authors", md, sa.Column("id", sa.Integer, primary_key=True), schema="s")
    books = sa.Table(
        "books",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("author_id", sa.Integer),
        sa.Column("sequel_of", sa.Integer),
        sa.ForeignKeyConstraint(["author_id"], ["s.authors.id"], name="books_author_fk"),
        sa.ForeignKeyConstraint(["sequel_of"], ["s.books.id"], name="books_sequel_fk"),
        schema="s",
    )
    members = sa.Table("members", md, sa.Column("id", sa.Integer, primary_key=True), schema="s")
    profiles = sa.Table(
        "profiles",
        md,
        sa.Column("member_id", sa.Integer, primary_key=True),
        sa.Column("bio", sa.Text),
        sa.ForeignKeyConstraint(["member_id"], ["s.members.id"], name="profiles_member_fk"),
        schema="s",
    )
    wishes = sa.Table(
        "wishes",
        md,
        sa.Column("member_id", sa.Integer, primary_key=True),
        sa.Column("book_id", sa.Integer, primary_key=True),
        sa.ForeignKeyConstraint(["member_id"], ["s.members.id"], name="wishes_member_fk"),
        sa.ForeignKeyConstraint(["book_id"], ["s.books.id"], name="wishes_book_fk"),
        schema="s",
    )
    # Two foreign keys, but its own serial key: a table of events, not a junction.
    visits = sa.Table(
        "visits",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("member_id", sa.Integer),
        sa.Column("book_id", sa.Integer),
        sa.ForeignKeyConstraint(["member_id"], ["s.members.id"], name="visits_member_fk"),
        sa.ForeignKeyConstraint(["book_id"], ["s.books.id"], name="visits_book_fk"),
        schema="s",
    )
    return authors, books, members, profiles, wishes, visits
