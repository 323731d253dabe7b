"""The relationship index: cardinalities, junctions and hints, on a catalog built in the test."""

from __future__ import annotations

import sqlalchemy as sa

from db.catalog import Catalog, Relation
from db.relationships import Cardinality, build_index, relationships


def _catalog(*tables: sa.Table, hidden: dict[str, frozenset[str]] | None = None) -> Catalog:
    hidden = hidden or {}
    relations = {
        ("s", table.name): Relation(table, "table", hidden=hidden.get(table.name, frozenset()))
        for table in tables
    }
    return Catalog(("s",), relations, tables[0].metadata, loaded_at=0.0, load_seconds=0.0)


def _library() -> tuple[sa.Table, ...]:
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


def _one(index, source, target, cardinality=None):
    found = [
        rel
        for rel in index.between(("s", source), ("s", target))
        if cardinality is None or rel.cardinality is cardinality
    ]
    assert len(found) == 1, found
    return found[0]


def test_a_foreign_key_is_many_to_one_one_way_and_one_to_many_the_other():
    index = build_index(_catalog(*_library()))
    out = _one(index, "books", "authors")
    back = _one(index, "authors", "books")
    assert out.cardinality is Cardinality.MANY_TO_ONE and not out.to_many
    assert (out.source_columns, out.target_columns) == (("author_id",), ("id",))
    assert back.cardinality is Cardinality.ONE_TO_MANY and back.to_many
    assert (back.source_columns, back.target_columns) == (("id",), ("author_id",))
    assert out.constraint == back.constraint == "books_author_fk"


def test_a_unique_referencing_key_is_one_to_one_both_ways():
    index = build_index(_catalog(*_library()))
    assert _one(index, "profiles", "members").cardinality is Cardinality.ONE_TO_ONE
    assert _one(index, "members", "profiles").cardinality is Cardinality.ONE_TO_ONE
    assert not _one(index, "members", "profiles").to_many


def test_a_unique_index_also_makes_one_to_one():
    md = sa.MetaData()
    people = sa.Table("people", md, sa.Column("id", sa.Integer, primary_key=True), schema="s")
    passports = sa.Table(
        "passports",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.Integer),
        sa.ForeignKeyConstraint(["person_id"], ["s.people.id"], name="passports_person_fk"),
        schema="s",
    )
    sa.Index("passports_person_key", passports.c.person_id, unique=True)
    index = build_index(_catalog(people, passports))
    assert _one(index, "people", "passports").cardinality is Cardinality.ONE_TO_ONE


def test_a_junction_relates_its_two_sides_many_to_many():
    index = build_index(_catalog(*_library()))
    rel = _one(index, "members", "books", Cardinality.MANY_TO_MANY)
    assert rel.junction.relation == ("s", "wishes")
    assert (rel.source_columns, rel.junction.source_columns) == (("id",), ("member_id",))
    assert (rel.junction.target_columns, rel.target_columns) == (("book_id",), ("id",))
    back = _one(index, "books", "members", Cardinality.MANY_TO_MANY)
    assert back.junction.relation == ("s", "wishes")
    assert {"wishes", "wishes_member_fk", "wishes_book_fk"} == rel.hint_names()


def test_a_table_with_its_own_key_is_not_a_junction():
    index = build_index(_catalog(*_library()))
    many = [
        rel
        for rel in index.between(("s", "members"), ("s", "books"))
        if rel.cardinality is Cardinality.MANY_TO_MANY
    ]
    assert [rel.junction.relation for rel in many] == [("s", "wishes")]  # not visits


def test_a_self_reference_has_both_directions_and_hints_by_column_or_constraint():
    index = build_index(_catalog(*_library()))
    both = index.between(("s", "books"), ("s", "books"))
    assert {rel.cardinality for rel in both} == {Cardinality.MANY_TO_ONE, Cardinality.ONE_TO_MANY}
    assert all(rel.is_self_reference for rel in both)
    # The column picks the referenced book, the constraint the books referencing this one.
    names = {rel.cardinality: rel.hint_names() for rel in both}
    assert names[Cardinality.MANY_TO_ONE] == {"sequel_of"}
    assert names[Cardinality.ONE_TO_MANY] == {"books_sequel_fk"}


def test_back_references_of_a_relation():
    index = build_index(_catalog(*_library()))
    into_members = {(rel.source[1], rel.cardinality) for rel in index.into(("s", "members"))}
    assert ("profiles", Cardinality.ONE_TO_ONE) in into_members
    assert ("wishes", Cardinality.MANY_TO_ONE) in into_members
    assert ("books", Cardinality.MANY_TO_MANY) in into_members


def test_foreign_keys_to_unserved_or_through_hidden_columns_are_left_out():
    authors, books, *rest = _library()
    without_authors = build_index(_catalog(books, *rest))  # authors hidden or not served
    assert without_authors.between(("s", "books"), ("s", "authors")) == ()
    hidden_column = build_index(_catalog(authors, books, *rest, hidden={"books": {"author_id"}}))
    assert hidden_column.between(("s", "books"), ("s", "authors")) == ()
    assert hidden_column.between(("s", "authors"), ("s", "books")) == ()


def test_the_index_is_built_once_per_snapshot():
    catalog = _catalog(*_library())
    assert relationships(catalog) is relationships(catalog)
    assert relationships(_catalog(*_library())) is not relationships(catalog)


def test_the_sample_schemas_relationships_as_reflected(app):
    """On the reflected sample: loans' composite key to copies, the self-reference of members."""
    from webapp.state import app_state

    with app.app_context():
        catalog = app_state().catalogs.current
    index = relationships(catalog)
    loans_copies = index.between(("public", "loans"), ("public", "copies"))
    assert [rel.cardinality for rel in loans_copies] == [Cardinality.MANY_TO_ONE]
    assert len(loans_copies[0].source_columns) == 2
    assert Cardinality.ONE_TO_MANY in {
        rel.cardinality for rel in index.between(("public", "copies"), ("public", "loans"))
    }
    member_links = {
        rel.cardinality for rel in index.between(("public", "members"), ("public", "members"))
    }
    assert member_links == {Cardinality.MANY_TO_ONE, Cardinality.ONE_TO_MANY}
    assert all(rel.target in catalog.relations for rels in index.by_source.values() for rel in rels)
