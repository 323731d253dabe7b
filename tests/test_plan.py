"""The read pipeline without a database: plan passes, cursor round trips, SQL for each plan shape."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from catalogs import catalog_of
from sqlalchemy.dialects import postgresql
from werkzeug.datastructures import MultiDict

from db.relationships import RelationshipIndex
from webapp.pipeline import cursors
from webapp.pipeline.api_error import ApiError
from webapp.pipeline.grammar import GrammarError, OrderTerm
from webapp.pipeline.joined import MAX_JOINED
from webapp.pipeline.plan import Paging, plan_read
from webapp.pipeline.query import HIDDEN
from webapp.pipeline.reads import parse_read
from webapp.pipeline.statement import count_for, select_for


def _shelf():
    """authors -< books -< copies, a nullable column to sort by, and a view."""
    md = sa.MetaData()
    authors = sa.Table(
        "authors",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        schema="s",
    )
    books = sa.Table(
        "books",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("subtitle", sa.Text),
        sa.Column("author_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["s.authors.id"], name="books_author_fk"),
        schema="s",
    )
    copies = sa.Table(
        "copies",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("book_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["book_id"], ["s.books.id"], name="copies_book_fk"),
        schema="s",
    )
    titles = sa.Table("titles", md, sa.Column("title", sa.Text), schema="s")
    return catalog_of(authors, books, copies, titles, views={"titles": {}})


CATALOG = _shelf()


def _plan(name: str, query: str = "", **paging):
    relation = CATALOG.relation(name, "s")
    read = parse_read(MultiDict([tuple(pair.split("=", 1)) for pair in query.split("&") if pair]))
    return plan_read(CATALOG, relation, read, Paging(**paging))


def _sql(stmt: sa.Select) -> str:
    return " ".join(str(stmt.compile(dialect=postgresql.dialect())).split())


# Order


def test_the_order_is_made_total_with_the_primary_key_where_a_cursor_can_be_made():
    plan = _plan("books", "order=title.desc")
    assert plan.keyset
    assert plan.order == (OrderTerm("title", True), OrderTerm("id"))


def test_a_nullable_sort_column_pages_by_offset_in_the_order_asked():
    plan = _plan("books", "order=subtitle")
    assert not plan.keyset
    assert plan.order == (OrderTerm("subtitle"),)


def test_a_view_has_no_cursor_and_keeps_its_order():
    plan = _plan("titles", "order=title")
    assert not plan.keyset and plan.order == (OrderTerm("title"),)


def test_an_export_ends_its_order_with_the_primary_key_even_on_a_nullable_column():
    plan = _plan("books", "order=subtitle", stream=True)
    assert plan.order == (OrderTerm("subtitle"), OrderTerm("id"))
    assert not plan.keyset and plan.hidden == ()  # no cursor keys in an export's columns


# Cursors


@pytest.mark.parametrize(
    "value",
    [7, "Ünïcode, \"quoted\" & 'more'", dt.date(2024, 2, 29), Decimal("12.50"), uuid.uuid4()],
)
def test_a_cursor_round_trips_its_values_as_text_the_grammar_reads_back(value):
    cursor = cursors.encode("a.asc", [value])
    spec, texts = cursors.decode(cursor)
    assert spec == "a.asc"
    assert texts == [value if isinstance(value, str) else str(value)]
    assert "=" not in cursor  # unpadded base64url: safe in a query string as it is


@pytest.mark.parametrize("cursor", ["", "!!", "W10", "WzEsMl0", "WyJhLmFzYyIsWzFdXQ"])
def test_a_malformed_cursor_is_refused(cursor):
    with pytest.raises(cursors.BadCursor):
        cursors.decode(cursor)


def test_a_cursor_plan_starts_past_the_row_in_the_cursors_order():
    cursor = cursors.encode("title.asc,id.asc", ["Emma", 3])
    plan = _plan("books", "", cursor=cursor, limit=10)
    assert plan.order == (OrderTerm("title"), OrderTerm("id"))
    assert [param.value for param in plan.after] == ["Emma", 3]
    sql = _sql(select_for(plan))
    where = sql.split(" WHERE ")[1].split(" ORDER BY ")[0]
    assert where == (
        "s.books.title > %(param_1)s OR s.books.title = %(param_1)s"
        " AND s.books.id > %(param_2)s::INTEGER"
    )


def test_walking_backwards_reverses_the_sort_and_the_condition():
    cursor = cursors.encode("title.asc,id.asc", ["Emma", 3])
    plan = _plan("books", "", cursor=cursor, backwards=True, limit=10)
    assert plan.sort_order == (OrderTerm("title", True), OrderTerm("id", True))
    sql = _sql(select_for(plan))
    assert "s.books.title < " in sql and "ORDER BY s.books.title DESC, s.books.id DESC" in sql


@pytest.mark.parametrize(
    ("spec", "values", "query"),
    [
        ("subtitle.asc,id.asc", ["x", 1], ""),  # a nullable key: not a cursor of this table
        ("title.asc", ["x"], ""),  # not total
        ("title.asc,id.asc", ["x"], ""),  # a value short
        ("title.asc,id.asc", ["x", "not a number"], ""),
        ("nope.asc,id.asc", ["x", 1], ""),
        ("title.asc,id.asc", ["x", 1], "order=id.desc"),  # order= is not its beginning
    ],
)
def test_a_cursor_not_made_for_this_read_is_a_400(spec, values, query):
    with pytest.raises(GrammarError):
        _plan("books", query, cursor=cursors.encode(spec, values))


def test_a_cursor_with_an_offset_or_on_a_view_is_a_400():
    cursor = cursors.encode("title.asc,id.asc", ["x", 1])
    with pytest.raises(ApiError) as raised:
        _plan("books", "", cursor=cursor, offset=5)
    assert raised.value.status == 400
    with pytest.raises(GrammarError, match="pages by offset"):
        _plan("titles", "", cursor=cursor)


# Embeds


def test_each_embed_is_resolved_once_and_a_plain_to_one_embed_is_joined():
    plan = _plan("books", "select=title,authors(name),copies(id)")
    author, copies = plan.embeds
    assert author.join.child.name == "authors" and not author.join.to_many
    assert author.joined is not None and author.joined.keys == ("name",)
    assert copies.join.to_many and copies.joined is None
    assert plan.hidden == ("author_id", "id")  # the join column, then the cursor's key


def test_a_to_one_embed_with_a_filter_of_its_own_gets_its_own_query():
    plan = _plan("books", "select=*,authors(*)&authors.name=eq.Austen")
    assert plan.embeds[0].joined is None


def test_nested_embeds_are_planned_on_the_embedded_relation_with_their_join_columns():
    plan = _plan("authors", "select=*,books(title,copies(id))")
    (books,) = plan.embeds
    (copies,) = books.embeds
    assert books.hidden == ("id",)  # books' column that copies join on
    assert copies.join.child.name == "copies"


def test_at_most_max_joined_embeds_are_joins_the_rest_queries():
    embeds = ",".join(f"a{i}:authors(name)" for i in range(MAX_JOINED + 2))
    plan = _plan("books", f"select=id,{embeds}")
    joined = [each for each in plan.embeds if each.joined]
    assert len(joined) == MAX_JOINED
    assert [each.joined.alias for each in joined] == [f"_pgfront_embed_{i}" for i in range(8)]


def test_planning_resolves_each_relationship_once(monkeypatch):
    calls = []
    find = RelationshipIndex.find

    def counted(self, *args, **kwargs):
        calls.append(args)
        return find(self, *args, **kwargs)

    monkeypatch.setattr(RelationshipIndex, "find", counted)
    plan = _plan("authors", "select=*,books(title,copies(id))")
    select_for(plan)
    assert len(calls) == 2


# Limits, hidden columns and SQL


def test_the_limit_is_the_one_asked_never_above_the_cap():
    assert _plan("books", limit=50, cap=20).limit == 20
    assert _plan("books", limit=5, cap=20).limit == 5
    assert _plan("books", cap=20).limit == 20
    assert _plan("books", stream=True).limit is None


def test_row_keys_are_fetched_hidden_for_tables_only():
    assert _plan("books", "order=subtitle", row_keys=True).hidden == ("id",)
    assert _plan("titles", row_keys=True).hidden == ()


def test_a_page_statement_selects_hidden_keys_orders_and_fetches_one_row_more():
    sql = _sql(
        select_for(_plan("books", "select=title&author_id=eq.2&order=title", limit=10, offset=20))
    )
    assert sql.startswith(f"SELECT s.books.title, s.books.title AS {HIDDEN}title, s.books.id AS")
    assert "WHERE s.books.author_id = %(param_1)s" in sql
    assert sql.endswith(
        "ORDER BY s.books.title ASC, s.books.id ASC LIMIT %(param_2)s::INTEGER OFFSET %(param_3)s::INTEGER"
    )


def test_a_joined_embed_is_a_left_join_of_the_page_statement():
    sql = _sql(select_for(_plan("books", "select=title,authors(name)", limit=10)))
    assert (
        "LEFT OUTER JOIN s.authors AS _pgfront_embed_0 ON _pgfront_embed_0.id = s.books.author_id"
        in sql
    )


def test_the_count_statement_ignores_order_cursor_and_paging():
    cursor = cursors.encode("title.asc,id.asc", ["Emma", 3])
    plan = _plan("books", "order=title&author_id=eq.2", cursor=cursor, limit=10)
    sql = _sql(count_for(plan))
    assert "WHERE s.books.author_id = %(param_1)s" in sql
    assert "title >" not in sql and "LIMIT" not in sql


# Embeds that filter or order the parents


def test_an_inner_embed_is_an_exists_in_the_page_and_in_the_count():
    plan = _plan("authors", "select=name,books!inner(title)&books.title=like.A*", limit=5)
    for stmt in (select_for(plan), count_for(plan)):
        sql = _sql(stmt)
        assert (
            "WHERE EXISTS (SELECT 1 FROM s.books AS books_1 WHERE books_1.author_id = s.authors.id"
            in sql
        )
        assert "books_1.title LIKE" in sql


def test_an_empty_embed_with_a_null_check_is_a_not_exists_and_has_no_key():
    plan = _plan("authors", "select=name,books()&books=is.null")
    assert "WHERE NOT (EXISTS (SELECT 1 FROM s.books AS books_1" in _sql(select_for(plan))
    assert plan.embeds[0].embed.empty and plan.embeds[0].joined is None


def test_ordering_by_a_to_one_embed_is_a_scalar_subquery_and_makes_no_cursor():
    plan = _plan("books", "select=title,authors(name)&order=authors(name).desc", limit=5)
    assert not plan.keyset and plan.hidden == ("author_id",)
    sql = _sql(select_for(plan))
    assert (
        "ORDER BY (SELECT authors_1.name FROM s.authors AS authors_1 WHERE authors_1.id = s.books.author_id) DESC"
        in sql
    )


@pytest.mark.parametrize(
    ("select", "keys"),
    [("title,...authors(writer:name)", ["title", "writer"]), ("title,authors()", ["title"])],
)
def test_spread_and_empty_embeds_shape_the_keys(select, keys):
    from webapp.pipeline.spread import output_keys

    plan = _plan("books", f"select={select}")
    assert ["title"] + [key for each in plan.embeds for key in output_keys(each)] == keys
