"""PostgREST's embedding beyond the basics, on the sample schema: !inner, null filters on embeds,
empty and spread embeds, ordering by a to-one embed's column, embeds named by a foreign-key
column, and paging a to-one embed. Each expectation is computed with SQL from the same data.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa


def _scalars(db_connection, sql: str, **params) -> list:
    return list(db_connection.execute(sa.text(sql), params).scalars())


def _ok(response) -> list:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.json


# !inner


def test_an_inner_embed_drops_parents_without_a_matching_row(client, db_connection):
    expected = _scalars(
        db_connection,
        "SELECT m.id FROM members m WHERE EXISTS (SELECT FROM member_cards c"
        " WHERE c.member_id = m.id) ORDER BY m.id",
    )
    total = _scalars(db_connection, "SELECT count(*) FROM members")[0]
    response = client.get(
        "/api/members?select=id,member_cards!inner(card_no)&order=id&limit=500",
        headers={"Prefer": "count=exact"},
    )
    rows = response.json
    assert [row["id"] for row in rows] == expected[:500]
    assert response.headers["Content-Range"] == f"0-499/{len(expected)}"
    assert len(expected) < total  # some members have no card: the check can fail
    assert all(row["member_cards"]["card_no"] for row in rows)


def test_filters_on_an_inner_embed_filter_the_parents_and_the_count(client, db_connection):
    expected = _scalars(
        db_connection,
        "SELECT b.isbn FROM books b WHERE EXISTS (SELECT FROM copies c"
        " WHERE c.book_id = b.id AND c.branch_id = 2) ORDER BY b.isbn",
    )
    response = client.get(
        "/api/books?select=isbn,copies!inner(copy_no,branch_id)&copies.branch_id=eq.2"
        "&order=isbn&limit=5",
        headers={"Prefer": "count=exact"},
    )
    rows = response.json
    assert response.status_code == 206
    assert [row["isbn"] for row in rows] == expected[:5]
    assert response.headers["Content-Range"] == f"0-4/{len(expected)}"
    assert {copy["branch_id"] for row in rows for copy in row["copies"]} == {2}


def test_a_plain_embeds_filters_leave_the_parents_alone(client, db_connection):
    expected = _scalars(db_connection, "SELECT isbn FROM books ORDER BY isbn LIMIT 500")
    rows = _ok(
        client.get(
            "/api/books?select=isbn,copies(branch_id)&copies.branch_id=eq.2&order=isbn&limit=500"
        )
    )
    assert [row["isbn"] for row in rows] == expected
    assert any(row["copies"] == [] for row in rows)


def test_inner_embeds_nest(client, db_connection):
    expected = _scalars(
        db_connection,
        "SELECT a.name FROM authors a WHERE EXISTS (SELECT FROM books b JOIN copies c"
        " ON c.book_id = b.id WHERE b.author_id = a.id AND c.branch_id = 3) ORDER BY a.name",
    )
    rows = _ok(
        client.get(
            "/api/authors?select=name,books!inner(title,copies!inner(branch_id))"
            "&books.copies.branch_id=eq.3&order=name&limit=1000"
        )
    )
    assert [row["name"] for row in rows] == expected
    assert all(copy["branch_id"] == 3 for r in rows for b in r["books"] for copy in b["copies"])
    assert all(book["copies"] for row in rows for book in row["books"])


def test_an_inner_many_to_many_embed(client, db_connection):
    expected = _scalars(db_connection, "SELECT DISTINCT member_id FROM wishlist ORDER BY member_id")
    rows = _ok(client.get("/api/members?select=id,books!inner(title)&order=id&limit=500"))
    assert [row["id"] for row in rows] == expected[:500]
    assert all(row["books"] for row in rows)


def test_left_is_the_default_join(client, db_connection):
    expected = _scalars(db_connection, "SELECT isbn FROM books ORDER BY isbn LIMIT 500")
    rows = _ok(client.get("/api/books?select=isbn,copies!left(copy_no)&order=isbn&limit=500"))
    assert [row["isbn"] for row in rows] == expected


# Null filters and empty embeds


@pytest.mark.parametrize(("filter_", "has_card"), [("is.null", False), ("not.is.null", True)])
def test_an_empty_embed_with_a_null_filter_keeps_parents_with_or_without_one(
    client, db_connection, filter_, has_card
):
    expected = _scalars(
        db_connection,
        "SELECT id FROM members m WHERE EXISTS (SELECT FROM member_cards c"
        " WHERE c.member_id = m.id) = :has ORDER BY id",
        has=has_card,
    )
    rows = _ok(
        client.get(
            f"/api/members?select=id,member_cards()&member_cards={filter_}&order=id&limit=500"
        )
    )
    assert [row["id"] for row in rows] == expected[:500]
    assert all(set(row) == {"id"} for row in rows)  # an empty embed has no key


def test_an_embed_null_check_inside_or(client, db_connection):
    expected = _scalars(
        db_connection,
        "SELECT id FROM members m WHERE id < 5 OR NOT EXISTS (SELECT FROM member_cards c"
        " WHERE c.member_id = m.id) ORDER BY id",
    )
    rows = _ok(
        client.get(
            "/api/members?select=id,member_cards(card_no)"
            "&or=(id.lt.5,member_cards.is.null)&order=id&limit=1000"
        )
    )
    assert [row["id"] for row in rows] == expected


def test_another_operator_on_an_embed_is_a_400(client):
    response = client.get("/api/members?select=id,member_cards(*)&member_cards=eq.1")
    assert response.status_code == 400
    assert "member_cards=not.is.null" in response.json["message"]


# Spread embeds


def test_a_to_one_spread_lifts_its_columns_into_the_parent(client, db_connection):
    expected = db_connection.execute(
        sa.text(
            "SELECT b.title, a.name FROM books b JOIN authors a ON a.id = b.author_id"
            " ORDER BY b.isbn LIMIT 3"
        )
    ).all()
    rows = _ok(
        client.get("/api/books?select=title,...authors(writer:name),isbn&order=isbn&limit=3")
    )
    assert [set(row) for row in rows] == [{"title", "writer", "isbn"}] * 3
    assert [(row["title"], row["writer"]) for row in rows] == [tuple(r) for r in expected]


def test_a_to_many_spread_gives_an_array_per_column(client, db_connection):
    author = _scalars(
        db_connection, "SELECT author_id FROM books GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    )[0]
    titles = _scalars(
        db_connection, "SELECT title FROM books WHERE author_id = :a ORDER BY title", a=author
    )
    rows = _ok(
        client.get(f"/api/authors?select=id,...books(title)&id=eq.{author}&books.order=title")
    )
    assert rows == [{"id": author, "title": titles}]


def test_a_spread_in_csv_has_a_column_per_spread_key(client):
    response = client.get(
        "/api/books?select=isbn,...authors(name)&order=isbn&limit=2", headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True).splitlines()[0] == "isbn,name"


def test_a_spread_takes_no_alias(client):
    response = client.get("/api/books?select=title,a:...authors(name)")
    assert response.status_code == 400


# Ordering by a to-one embed's column


def test_parents_order_by_a_to_one_embeds_column(client, db_connection):
    expected = _scalars(
        db_connection,
        "SELECT b.isbn FROM books b JOIN authors a ON a.id = b.author_id"
        " ORDER BY a.name DESC, b.isbn LIMIT 10",
    )
    response = client.get(
        "/api/books?select=isbn,authors(name)&order=authors(name).desc,isbn&limit=10"
    )
    assert [row["isbn"] for row in _ok(response)] == expected
    assert "X-Next-Cursor" not in response.headers  # an embed's order makes no cursor


def test_ordering_by_a_to_many_embed_is_pgrst118(client):
    response = client.get("/api/authors?select=name,books(title)&order=books(title)")
    assert response.status_code == 400
    assert response.json["code"] == "PGRST118"


def test_ordering_by_an_embed_not_selected_is_a_400(client):
    response = client.get("/api/books?select=title&order=authors(name)")
    assert response.status_code == 400


# Embeds named by a foreign-key column, and a to-one embed's paging


def test_an_embed_named_by_a_foreign_key_column(client, db_connection):
    expected = (
        db_connection.execute(
            sa.text(
                "SELECT a.name FROM books b JOIN authors a ON a.id = b.author_id ORDER BY b.isbn LIMIT 2"
            )
        )
        .scalars()
        .all()
    )
    rows = _ok(
        client.get("/api/books?select=isbn,author_id(name),writer:author_id(id)&order=isbn&limit=2")
    )
    assert [row["author_id"]["name"] for row in rows] == expected
    assert all(set(row["writer"]) == {"id"} for row in rows)


def test_a_to_one_embed_offset_past_its_row_is_null(client):
    rows = _ok(client.get("/api/books?select=isbn,authors(name)&authors.offset=1&limit=3"))
    assert [row["authors"] for row in rows] == [None, None, None]
    rows = _ok(client.get("/api/books?select=isbn,authors(name)&authors.limit=1&limit=3"))
    assert all(row["authors"]["name"] for row in rows)


# Partitioned tables, and across served schemas


def test_a_partitioned_table_embeds_and_is_embedded_across_schemas(client, db_connection):
    loan = _scalars(db_connection, "SELECT loan_id FROM reporting.loan_events LIMIT 1")[0]
    events = _scalars(
        db_connection, "SELECT count(*) FROM reporting.loan_events WHERE loan_id = :l", l=loan
    )[0]
    rows = _ok(client.get(f"/api/loans?select=id,loan_events(occurred_at)&id=eq.{loan}"))
    assert len(rows[0]["loan_events"]) == events
    rows = _ok(
        client.get(
            f"/api/loan_events?select=loan_id,loans(id)&loan_id=eq.{loan}&limit=1",
            headers={"Accept-Profile": "reporting"},
        )
    )
    assert rows == [{"loan_id": loan, "loans": {"id": loan}}]


def test_an_embed_named_by_a_referenced_column(client, db_connection):
    """authors.id is referenced by books.author_id only: id(...) embeds an author's books."""
    author = _scalars(db_connection, "SELECT author_id FROM books LIMIT 1")[0]
    titles = _scalars(
        db_connection, "SELECT title FROM books WHERE author_id = :a ORDER BY title", a=author
    )
    rows = _ok(client.get(f"/api/authors?select=name,id(title)&id=eq.{author}&id.order=title"))
    assert rows[0]["id"] == [{"title": title} for title in titles]


def test_an_embed_named_by_a_column_many_relations_share_is_ambiguous(client):
    """books.id is referenced by copies, wishlist, books.sequel_of...: PostgREST's 300."""
    response = client.get("/api/books?select=title,id(*)&limit=1")
    assert response.status_code == 300
    assert response.json["code"] == "PGRST201"
