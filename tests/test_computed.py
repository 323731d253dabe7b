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


# -- computed relationships ---------------------------------------------------------------------


def test_a_computed_relationship_embeds_by_its_name(client, db_connection):
    parents = db_connection.execute(
        sa.text(
            "SELECT sequel_of, count(*) FROM books WHERE sequel_of IS NOT NULL"
            " GROUP BY sequel_of ORDER BY sequel_of LIMIT 3"
        )
    ).all()
    assert parents
    ids = ",".join(str(row[0]) for row in parents)
    rows = client.get(f"/api/books?select=id,title,sequels(title,sequel_of)&id=in.({ids})").json
    by_id = {row["id"]: row for row in rows}
    for book_id, count in parents:
        sequels = by_id[str(book_id)]["sequels"]
        assert len(sequels) == count
        assert all(sequel["sequel_of"] == str(book_id) for sequel in sequels)
    lonely = client.get("/api/books?select=title,sequels(title)&sequel_of=is.null&limit=50").json
    assert all(isinstance(row["sequels"], list) for row in lonely)


def test_a_computed_relationship_takes_the_embed_grammar(client, db_connection):
    parent = db_connection.execute(
        sa.text(
            "SELECT sequel_of FROM books WHERE sequel_of IS NOT NULL"
            " GROUP BY sequel_of HAVING count(*) > 1 LIMIT 1"
        )
    ).scalar()
    if parent is None:
        parent = db_connection.execute(
            sa.text("SELECT sequel_of FROM books WHERE sequel_of IS NOT NULL LIMIT 1")
        ).scalar_one()
    rows = client.get(
        f"/api/books?select=title,next:sequels(title,authors(name))&id=eq.{parent}"
        "&next.order=title.desc&next.limit=1"
    ).json
    (row,) = rows
    assert len(row["next"]) == 1 and isinstance(row["next"][0]["authors"]["name"], str)


def test_a_computed_relationship_on_a_function_result(client):
    rows = client.get("/api/rpc/search_books?q=archive&select=title,sequels(title)&limit=5").json
    assert len(rows) == 5 and all(isinstance(row["sequels"], list) for row in rows)


def test_a_computed_relationship_is_no_inner_embed_or_null_check(client):
    for url in (
        "/api/books?select=title,sequels!inner(title)&limit=3",
        "/api/books?select=title,sequels(title)&sequels=not.is.null&limit=3",
    ):
        refused = client.get(url)
        assert refused.status_code == 400 and refused.json["code"] == "PGRST100"
        assert "computed relationship" in refused.json["message"]
