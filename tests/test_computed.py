"""Computed columns: a function of a table's row, read as a column of that table (PostgREST's)."""

import sqlalchemy as sa


def _available(db_connection, book_id):
    return db_connection.execute(
        sa.text("SELECT available_copies(b) FROM books b WHERE id = :id"), {"id": book_id}
    ).scalar_one()


def test_a_computed_column_is_selected_by_name(client, db_connection):
    rows = client.get("/api/books?select=id,title,available_copies&order=isbn&limit=3").json
    assert [set(row) for row in rows] == [{"id", "title", "available_copies"}] * 3
    for row in rows:
        assert row["available_copies"] == _available(db_connection, row["id"])
    renamed = client.get("/api/books?select=free:available_copies&limit=1").json
    assert set(renamed[0]) == {"free"}
    assert "available_copies" not in client.get("/api/books?limit=1").json[0]  # not in *


def test_a_computed_column_filters_and_orders(client):
    rows = client.get(
        "/api/books?select=title,available_copies&available_copies=gte.3"
        "&order=available_copies.desc,title&limit=20"
    ).json
    assert rows and all(row["available_copies"] >= 3 for row in rows)
    counts = [row["available_copies"] for row in rows]
    assert counts == sorted(counts, reverse=True)
    bad = client.get("/api/books?available_copies=gt.many")
    assert bad.status_code == 400 and "available_copies" in bad.json["message"]


def test_computed_columns_on_a_function_result_and_an_embed(client):
    found = client.get("/api/rpc/search_books?q=archive&select=title,available_copies&limit=2")
    assert found.status_code == 200
    assert all(isinstance(row["available_copies"], int) for row in found.json)
    authors = client.get("/api/authors?select=name,books(title,available_copies)&id=eq.1").json
    assert all(isinstance(book["available_copies"], int) for book in authors[0]["books"])


def test_an_unknown_name_is_still_an_unknown_column(client):
    missing = client.get("/api/books?select=title,nope")
    assert missing.status_code == 400 and missing.json["code"] == "42703"


def test_a_computed_column_in_a_to_one_embed(client):
    rows = client.get("/api/copies?select=copy_no,books(title,available_copies)&limit=3").json
    assert len(rows) == 3 and all(isinstance(r["books"]["available_copies"], int) for r in rows)
