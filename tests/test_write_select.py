"""select= on POST, PATCH, DELETE and PUT with return=representation: columns, renames, embeds.

Today: the representation had every column, whatever select= said.
"""

import pytest
import sqlalchemy as sa

REPRESENTATION = {"Prefer": "return=representation"}


def test_post_select_picks_and_renames_columns(client):
    response = client.post(
        "/api/branches?select=name,town:city",
        json=[{"name": "S1", "city": "Kingsford"}, {"name": "S2", "city": "Port Ellis"}],
        headers=REPRESENTATION,
    )
    assert response.status_code == 201
    assert response.json == [
        {"name": "S1", "town": "Kingsford"},
        {"name": "S2", "town": "Port Ellis"},
    ]
    assert response.headers["Preference-Applied"] == "return=representation"


def test_post_select_embeds_the_row_it_refers_to(client, db_connection):
    author = db_connection.execute(sa.text("SELECT id, name FROM authors WHERE id = 1")).one()
    response = client.post(
        "/api/books?select=title,writer:authors(name)",
        json={"isbn": "9990000000001", "title": "Embedded", "author_id": 1, "genre": "poetry"},
        headers=REPRESENTATION,
    )
    assert response.status_code == 201, response.json
    assert response.json == [{"title": "Embedded", "writer": {"name": author.name}}]


def test_patch_select_embeds_rows_that_refer_to_it(client, db_connection):
    copies = db_connection.execute(
        sa.text("SELECT copy_no FROM copies WHERE branch_id = 6 ORDER BY book_id, copy_no LIMIT 2")
    ).scalars()
    response = client.patch(
        "/api/branches?id=eq.6&select=name,copies(copy_no)&copies.order=book_id,copy_no"
        "&copies.limit=2",
        json={"name": "University Library"},
        headers=REPRESENTATION,
    )
    assert response.status_code == 200, response.json
    assert response.json == [
        {"name": "University Library", "copies": [{"copy_no": n} for n in copies]}
    ]


def test_delete_select_shapes_the_deleted_rows(client, db_connection):
    wishes = db_connection.execute(
        sa.text(
            "SELECT w.book_id::text, b.title FROM wishlist w JOIN books b ON b.id = w.book_id"
            " WHERE w.member_id = 6 ORDER BY w.book_id"
        )
    ).all()
    response = client.delete(
        "/api/wishlist?member_id=eq.6&select=book_id,books(title)", headers=REPRESENTATION
    )
    assert response.status_code == 200, response.json
    assert sorted(response.json, key=lambda row: row["book_id"]) == [
        {"book_id": book_id, "books": {"title": title}} for book_id, title in wishes
    ]


def test_select_is_ignored_without_return_representation(client):
    response = client.post("/api/branches?select=name", json={"name": "S3", "city": "X"})
    assert response.status_code == 201 and response.get_data() == b""


def test_select_as_csv(client):
    response = client.patch(
        "/api/branches?id=eq.1&select=id,phone",
        json={"phone": "+44"},
        headers={**REPRESENTATION, "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True).splitlines() == ["id,phone", "1,+44"]


@pytest.mark.parametrize(
    ("select", "status"),
    [("nope", 400), ("name,nowhere(id)", 404)],
)
def test_a_bad_select_writes_nothing(client, db_connection, select, status):
    """An unknown column, an embed of a relation not served: refused before the write."""
    response = client.post(
        f"/api/branches?select={select}", json={"name": "Bad", "city": "X"}, headers=REPRESENTATION
    )
    assert response.status_code == status, response.json
    named = db_connection.execute(sa.text("SELECT count(*) FROM branches WHERE name = 'Bad'"))
    assert named.scalar() == 0


def test_an_ambiguous_embed_writes_nothing(client, db_connection):
    response = client.post(
        "/api/books?select=title,books(title)",
        json={"isbn": "9990000000002", "title": "Ambiguous", "author_id": 1, "genre": "poetry"},
        headers=REPRESENTATION,
    )
    assert response.status_code == 300 and response.json["code"] == "PGRST201"
    named = db_connection.execute(sa.text("SELECT count(*) FROM books WHERE title = 'Ambiguous'"))
    assert named.scalar() == 0


def test_a_spread_embed_lifts_its_columns_into_the_written_row(client, db_connection):
    author = db_connection.execute(sa.text("SELECT name FROM authors WHERE id = 1")).scalar()
    response = client.post(
        "/api/books?select=title,...authors(writer:name)",
        json={"isbn": "9990000000003", "title": "Spread", "author_id": 1, "genre": "poetry"},
        headers=REPRESENTATION,
    )
    assert response.status_code == 201, response.json
    assert response.json == [{"title": "Spread", "writer": author}]
