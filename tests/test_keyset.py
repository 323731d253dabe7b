"""Keyset cursors: the same rows as offset paging, without counting past an offset."""

import pytest
import sqlalchemy as sa


def _walk(client, url, pages):
    rows, response = [], client.get(url)
    for _ in range(pages):
        assert response.status_code == 200, response.json
        rows += response.json
        link = response.headers.get("Link")
        if not link:
            break
        assert link.endswith('>; rel="next"')
        response = client.get(link[1 : link.index(">")])
    return rows


def test_cursor_pages_match_offset_pages(client, db_connection):
    expected = (
        db_connection.execute(
            sa.text("SELECT id FROM loans ORDER BY loaned_at DESC, id LIMIT 1500")
        )
        .scalars()
        .all()
    )
    rows = _walk(client, "/api/loans?select=id&order=loaned_at.desc&limit=300", pages=5)
    assert [row["id"] for row in rows] == expected


def test_composite_key_default_order(client, db_connection):
    expected = db_connection.execute(
        sa.text(
            "SELECT book_id::text, copy_no FROM copies WHERE condition = 'new' ORDER BY book_id, copy_no LIMIT 90"
        )
    ).all()
    rows = _walk(client, "/api/copies?select=book_id,copy_no&condition=eq.new&limit=30", pages=3)
    assert [(row["book_id"], row["copy_no"]) for row in rows] == [tuple(r) for r in expected]


def test_cursor_keeps_filters_and_header(client):
    first = client.get("/api/loans?fee=gt.5&limit=10&select=id,fee")
    cursor = first.headers["X-Next-Cursor"]
    second = client.get(f"/api/loans?fee=gt.5&limit=10&select=id,fee&cursor={cursor}")
    assert all(float(row["fee"]) > 5 for row in second.json)
    assert second.json[0]["id"] > first.json[-1]["id"]


def test_no_cursor_where_it_cannot_be_exact(client):
    assert "Link" not in client.get("/api/loans?order=returned_at&limit=5").headers  # nullable
    assert "Link" not in client.get("/api/overdue_loans?limit=5").headers  # a view
    assert "Link" not in client.get("/api/branches?limit=50").headers  # no more rows


@pytest.mark.parametrize(
    "query",
    [
        "cursor=garbage!",
        "cursor=WyJpZC5hc2MiLFsiMSJdXQ&offset=5",  # a valid cursor with an offset
        "cursor=WyJpZC5hc2MiLFsiMSJdXQ&order=loaned_at",  # made for another order
        "cursor=WyJub3BlLmFzYyIsWyIxIl1d",  # names a column that does not exist
        "cursor=WyJpZC5hc2MiLFsieCJdXQ",  # a value of the wrong type
    ],
)
def test_bad_cursors_are_400(client, query):
    response = client.get(f"/api/loans?{query}")
    assert response.status_code == 400
    assert response.json["code"] == "PGRST100"


def test_boolean_and_nulls_modifiers_page_through(client, db_connection):
    expected = (
        db_connection.execute(
            sa.text("SELECT id FROM members ORDER BY active DESC, joined_at, id LIMIT 900")
        )
        .scalars()
        .all()
    )
    rows = _walk(
        client, "/api/members?select=id&order=active.desc,joined_at.asc.nullslast&limit=300", 3
    )
    assert [row["id"] for row in rows] == expected


def test_cursor_with_count_range_and_page_size(client):
    first = client.get("/api/branches?limit=2", headers={"Prefer": "count=exact"})
    cursor = first.headers["X-Next-Cursor"]
    assert "limit=2" in first.headers["Link"]
    second = client.get(f"/api/branches?limit=2&cursor={cursor}", headers={"Prefer": "count=exact"})
    assert second.headers["Content-Range"].endswith("/6")  # the count ignores the cursor
    ranged = client.get(f"/api/branches?cursor={cursor}", headers={"Range": "2-3"})
    assert ranged.status_code == 400
