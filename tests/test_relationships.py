"""The relationship index: cardinalities, junctions and hints, on a catalog built in the test."""

from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa
from catalogs import catalog_of as _catalog
from catalogs import library as _library

from db.relationships import Cardinality, build_index, relationships
from db.view_columns import output_origins, view_columns_of


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


# Hints: PostgREST's names (constraint, column, junction), and the self-reference rule.


def test_a_hint_names_a_constraint_a_column_of_either_side_or_a_junction():
    index = build_index(_catalog(*_library()))
    books, authors, members = ("s", "books"), ("s", "authors"), ("s", "members")
    for hint in ("books_author_fk", "author_id", "id"):
        (found,) = index.find(books, authors, hint)
        assert found.constraint == "books_author_fk"
    assert index.find(books, authors, "nope") == ()
    (through,) = index.find(members, books, "wishes")
    assert through.cardinality is Cardinality.MANY_TO_MANY
    assert index.find(members, books, "visits") == ()  # not a junction


def test_a_self_reference_is_picked_by_column_up_and_by_constraint_down():
    index = build_index(_catalog(*_library()))
    books = ("s", "books")
    assert len(index.find(books, books)) == 2  # ambiguous without a hint
    (up,) = index.find(books, books, "sequel_of")
    (down,) = index.find(books, books, "books_sequel_fk")
    assert (up.cardinality, down.cardinality) == (Cardinality.MANY_TO_ONE, Cardinality.ONE_TO_MANY)
    assert (up.suggested_hint(), down.suggested_hint()) == ("sequel_of", "books_sequel_fk")


# Views: the relationships of the keys they show, from the stored query's target list.


def _book_list(md: sa.MetaData, *columns: str) -> sa.Table:
    return sa.Table("book_list", md, *(sa.Column(name, sa.Integer) for name in columns), schema="s")


def test_a_view_showing_a_foreign_key_relates_to_its_target_both_ways():
    tables = _library()
    view = _book_list(tables[0].metadata, "book_id", "writer", "title")
    shows = {"book_id": ("s", "books", "id"), "writer": ("s", "books", "author_id")}
    index = build_index(_catalog(*tables, view, views={"book_list": shows}))
    out = _one(index, "book_list", "authors")
    assert (out.cardinality, out.source_columns, out.target_columns) == (
        Cardinality.MANY_TO_ONE,
        ("writer",),
        ("id",),
    )
    assert out.constraint == "books_author_fk" and out.via_view
    assert _one(index, "authors", "book_list").cardinality is Cardinality.ONE_TO_MANY
    # It shows books.id: the keys into books lead into it too, and out of it back.
    assert _one(index, "wishes", "book_list").source_columns == ("book_id",)
    assert _one(index, "book_list", "wishes").cardinality is Cardinality.ONE_TO_MANY
    # and the junction relates members to it many-to-many
    through = _one(index, "members", "book_list", Cardinality.MANY_TO_MANY)
    assert through.junction.relation == ("s", "wishes") and through.target_columns == ("book_id",)
    # a view's relationships are not its own foreign keys (no row links, diagram arrows)
    assert index.foreign_keys(("s", "book_list")) == ()


def test_a_view_showing_a_key_twice_has_a_relationship_for_each_column():
    tables = _library()
    view = _book_list(tables[0].metadata, "writer", "same_writer")
    shows = {"writer": ("s", "books", "author_id"), "same_writer": ("s", "books", "author_id")}
    index = build_index(_catalog(*tables, view, views={"book_list": shows}))
    both = index.between(("s", "book_list"), ("s", "authors"))
    assert sorted(rel.source_columns for rel in both) == [("same_writer",), ("writer",)]


def test_a_view_needs_every_column_of_a_key_and_its_hidden_columns_show_nothing():
    tables = _library()
    view = _book_list(tables[0].metadata, "book_id", "writer")
    shows = {"book_id": ("s", "books", "id"), "writer": ("s", "books", "author_id")}
    hidden = build_index(
        _catalog(*tables, view, views={"book_list": shows}, hidden={"book_list": {"writer"}})
    )
    assert hidden.between(("s", "book_list"), ("s", "authors")) == ()
    assert hidden.between(("s", "wishes"), ("s", "book_list")) != ()  # book_id is not hidden
    # A view over a hidden key column gets nothing from it either.
    under_hidden = build_index(
        _catalog(*tables, view, views={"book_list": shows}, hidden={"books": {"author_id"}})
    )
    assert under_hidden.between(("s", "book_list"), ("s", "authors")) == ()


def test_two_views_relate_to_each_other_through_the_key_between_their_tables():
    tables = _library()
    md = tables[0].metadata
    book_list = _book_list(md, "writer")
    author_list = sa.Table("author_list", md, sa.Column("author", sa.Integer), schema="s")
    views = {
        "book_list": {"writer": ("s", "books", "author_id")},
        "author_list": {"author": ("s", "authors", "id")},
    }
    index = build_index(_catalog(*tables, book_list, author_list, views=views))
    rel = _one(index, "book_list", "author_list")
    assert (rel.source_columns, rel.target_columns) == (("writer",), ("author",))
    assert _one(index, "author_list", "book_list").to_many


def _stored_query(*entries: str, nested: str = "<>") -> str:
    """A pg_rewrite.ev_action as PostgreSQL writes it, reduced to what matters here."""
    return (
        "({QUERY :commandType 1 :rtable ({RANGETBLENTRY :rtekind 1 :subquery "
        + nested
        + "}) :targetList ("
        + " ".join(entries)
        + ") :override 0})"
    )


def _entry(resno: int, name: str, table: int, column: int, junk: str = "false") -> str:
    return (
        "{TARGETENTRY :expr {VAR :varno 1 :varattno 1 :location -1}"
        f" :resno {resno} :resname {name} :ressortgroupref 0 :resorigtbl {table}"
        f" :resorigcol {column} :resjunk {junk}}}"
    )


def test_the_stored_querys_own_target_list_is_read_not_a_subquerys():
    subquery = _stored_query(_entry(1, "inner", 900, 9))
    definition = _stored_query(
        _entry(1, "book_id", 100, 1),
        _entry(2, r"odd\ \(name\)", 100, 4),  # names are escaped, not quoted
        _entry(3, "total", 0, 0),  # an expression: no origin
        _entry(4, "sorter", 100, 2, junk="true"),
        nested=subquery,
    )
    assert list(output_origins(definition)) == [(1, 100, 1), (2, 100, 4)]


def test_a_view_over_a_view_shows_the_base_tables_column():
    inner = SimpleNamespace(
        oid=201,
        schema="s",
        name="book_ids",
        definition=_stored_query(_entry(1, "id", 100, 1), _entry(2, "n", 0, 0)),
        columns=[[1, "id"], [2, "n"]],
        sources=[[100, "s", "books", 1, "id"]],
    )
    outer = SimpleNamespace(
        oid=202,
        schema="s",
        name="wished_books",
        definition=_stored_query(_entry(1, "book", 201, 1), _entry(2, "n", 201, 2)),
        columns=[[1, "book"], [2, "n"]],
        sources=[[201, "s", "book_ids", 1, "id"], [201, "s", "book_ids", 2, "n"]],
    )
    shown = view_columns_of([outer, inner])
    assert dict(shown[("s", "book_ids")]) == {"id": ("s", "books", "id")}
    assert dict(shown[("s", "wished_books")]) == {"book": ("s", "books", "id")}


def test_the_sample_views_show_their_keys(app):
    """Reflected: shelved_copies shows copies' keys, so it embeds and is embedded as copies is."""
    from webapp.state import app_state

    with app.app_context():
        catalog = app_state().catalogs.current
    assert catalog.view_columns[("public", "shelved_copies")]["book_id"] == (
        "public",
        "copies",
        "book_id",
    )
    index = relationships(catalog)
    shelved, loans = ("public", "shelved_copies"), ("public", "loans")
    assert [rel.cardinality for rel in index.between(loans, shelved)] == [Cardinality.MANY_TO_ONE]
    assert {rel.target[1] for rel in index.of(shelved)} >= {"books", "branches", "loans"}
    # overdue_loans shows loans.id as loan_id: the loan events of reporting embed it
    events = index.between(("reporting", "loan_events"), ("public", "overdue_loans"))
    assert [rel.target_columns for rel in events] == [("loan_id",)]


def test_nothing_is_many_to_many_through_a_hidden_junction_or_junction_column():
    authors, books, members, profiles, wishes, visits = _library()
    hidden_column = build_index(_catalog(*_library(), hidden={"wishes": {"book_id"}}))
    assert hidden_column.between(("s", "members"), ("s", "books")) == ()
    assert hidden_column.between(("s", "wishes"), ("s", "members")) != ()  # its other key stays
    without_junction = build_index(_catalog(authors, books, members, profiles, visits))
    assert without_junction.between(("s", "members"), ("s", "books")) == ()
