"""GET /api/<table>: rows, paging, the row cap, key lookups and errors in PostgREST's shape."""

from urllib.parse import quote

import pytest
import sqlalchemy as sa


def _first_book(db_connection):
    return db_connection.execute(sa.text("SELECT id, title FROM books ORDER BY id LIMIT 1")).one()


def test_rows_with_limit_and_offset(client, db_connection):
    response = client.get("/api/branches?limit=2&offset=1&order=id")
    assert response.status_code == 200
    assert response.headers["Content-Range"] == "1-2/*"
    names = (
        db_connection.execute(sa.text("SELECT name FROM branches ORDER BY id LIMIT 2 OFFSET 1"))
        .scalars()
        .all()
    )
    assert [row["name"] for row in response.json] == names


def test_lookup_by_primary_key(client, db_connection):
    book = _first_book(db_connection)
    response = client.get(f"/api/books?id=eq.{book.id}")
    assert response.status_code == 200
    assert [row["title"] for row in response.json] == [book.title]


def test_lookup_by_composite_key(client, db_connection):
    book_id, copy_no = db_connection.execute(
        sa.text("SELECT book_id, copy_no FROM copies ORDER BY 1, 2 LIMIT 1")
    ).one()
    response = client.get(f"/api/copies?book_id=eq.{book_id}&copy_no=eq.{copy_no}")
    assert len(response.json) == 1
    assert response.json[0]["copy_no"] == copy_no


def test_row_cap_cuts_and_reports(make_app):
    client = make_app(MAX_ROWS="25").test_client()
    response = client.get("/api/loans")
    assert len(response.json) == 25
    assert response.headers["X-Row-Cap"] == "25"
    assert response.headers["Content-Range"] == "0-24/*"
    asked_more = client.get("/api/loans?limit=500")
    assert len(asked_more.json) == 25 and asked_more.headers["X-Row-Cap"] == "25"
    within = client.get("/api/loans?limit=10")
    assert len(within.json) == 10 and "X-Row-Cap" not in within.headers


def test_filters_and_order(client, db_connection):
    expected = (
        db_connection.execute(
            sa.text(
                "SELECT id FROM members WHERE active AND referred_by IS NOT NULL"
                " ORDER BY joined_at DESC, id LIMIT 5"
            )
        )
        .scalars()
        .all()
    )
    response = client.get(
        "/api/members?active=is.true&referred_by=not.is.null&order=joined_at.desc,id&limit=5"
    )
    assert [row["id"] for row in response.json] == expected


def test_other_schema_through_accept_profile(client):
    response = client.get("/api/branch_targets?limit=1", headers={"Accept-Profile": "reporting"})
    assert response.status_code == 200
    assert set(response.json[0]) == {"branch_id", "month", "target_loans", "note"}
    refused = client.get("/api/books", headers={"Accept-Profile": "secret"})
    assert refused.status_code == 406
    assert refused.json["code"] == "PGRST106"


def test_views_are_readable(client):
    response = client.get("/api/book_popularity?order=loan_count.desc&limit=3")
    assert response.status_code == 200
    counts = [row["loan_count"] for row in response.json]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize(
    ("path", "status", "code", "fragment"),
    [
        ("/api/no_such_table", 404, "42P01", "no_such_table"),
        ("/api/books?nope=eq.1", 400, "42703", "nope"),
        ("/api/books?id=eq.not-a-uuid", 400, "PGRST100", "column 'id'"),
        ("/api/books?pages=gt.many", 400, "PGRST100", "column 'pages'"),
        ("/api/books?published_on=lt.yesterday", 400, "PGRST100", "published_on"),
        ("/api/books?title=approx.x", 400, "PGRST100", "unknown operator"),
        ("/api/books?limit=-3", 400, "PGRST100", "limit"),
        ("/api/books?order=title.sideways", 400, "PGRST100", "sideways"),
        ("/api/books?limit=%C2%B2", 400, "PGRST100", "limit"),
        ("/api/books?offset=%D9%A1", 400, "PGRST100", "offset"),
        ("/api/books?title=eq.a%00b", 400, "PGRST100", "NUL"),
        ("/api/books?genre=eq.nosuch", 400, "PGRST100", "column 'genre'"),
        (
            "/api/books?" + "&".join(f"id=in.({','.join(['x'] * 900)})" for _ in range(7)),
            400,
            "PGRST100",
            "filter values",
        ),
        ("/api/books?%ff=eq.1", 400, "42703", "%FF"),
    ],
)
def test_client_errors_are_json(client, path, status, code, fragment):
    response = client.get(path)
    assert response.status_code == status
    assert set(response.json) == {"code", "message", "details", "hint"}
    assert response.json["code"] == code
    assert fragment in response.json["message"]


def test_database_error_maps_sqlstate_without_sql_text(client):
    # '99999999999' fits Python's int but not the int4 column: the database says 22003.
    response = client.get("/api/books?pages=eq.99999999999")
    assert response.status_code == 400
    assert response.json["code"] == "22003"
    assert "SELECT" not in response.get_data(as_text=True)


def test_every_relation_is_served(app, client):
    catalog = app.extensions["pgfront"].catalogs.current
    for (schema, name), relation in catalog.relations.items():
        response = client.get(f"/api/{name}?limit=3", headers={"Accept-Profile": schema})
        assert response.status_code == 200, (schema, name, response.json)
        assert isinstance(response.json, list)
        if response.json:
            assert set(response.json[0]) == {column.name for column in relation.columns}


def test_logic_trees(client, db_connection):
    expected = (
        db_connection.execute(
            sa.text(
                "SELECT id FROM members WHERE (max_loans = 0 OR (NOT active AND referred_by IS NULL))"
                " AND id < 1000 ORDER BY id"
            )
        )
        .scalars()
        .all()
    )
    response = client.get(
        "/api/members?select=id&or=(max_loans.eq.0,and(active.is.false,referred_by.is.null))"
        "&id=lt.1000&limit=1000"
    )
    assert response.status_code == 200, response.json
    assert [row["id"] for row in response.json] == expected and expected
    negated = client.get("/api/branches?select=name&not.or=(name.eq.Central,name.eq.Harbour)")
    assert sorted(row["name"] for row in negated.json) == [
        "Hillcrest",
        "Old Town",
        "Riverside",
        "University",
    ]


def test_select_renames(client):
    response = client.get("/api/branches?select=branch:name,id&order=id&limit=1")
    assert response.json == [{"branch": "Central", "id": 1}]


@pytest.mark.parametrize(
    ("query", "sql"),
    [
        ("tags=cs.{x}", "tags @> '{x}'"),
        ("tags=eq.{book-club}", "tags = '{book-club}'"),
        ("details=eq.{}", "details = '{}'"),
        ("extension=eq.14 days", None),
        ("cover=eq.abc", "cover = 'abc'"),
    ],
)
def test_untyped_filters_match_postgresql(client, db_connection, query, sql):
    table = "loans" if query.startswith("extension") else "books"
    response = client.get(f"/api/{table}?{query}&select=id&limit=1000")
    where = sql or "extension = '14 days'"
    expected = db_connection.execute(
        sa.text(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {where} LIMIT 1000) s")
    ).scalar()
    assert response.status_code == 200, response.json
    assert len(response.json) == expected


def test_citext_filters_ignore_case(client, db_connection):
    email = db_connection.execute(
        sa.text("SELECT email::text FROM members ORDER BY id LIMIT 1")
    ).scalar()
    response = client.get(f"/api/members?email=eq.{email.upper()}&select=id")
    assert len(response.json) == 1


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("/api/members?active=gt.false&limit=1", 200),
        ("/api/members?or=(active.lte.true)&limit=1", 200),
        ("/api/books?pages=eq.1_000", 400),
        ("/api/books?published_on=eq.infinity", 200),
        ("/api/books?added_at=lt.-infinity", 200),
    ],
)
def test_typed_comparisons(client, query, status):
    response = client.get(query)
    assert response.status_code == status, response.json


def test_untyped_filters_find_rows(client, db_connection):
    book = db_connection.execute(
        sa.text(
            "SELECT id, tags::text, details::text FROM books WHERE cardinality(tags) > 0"
            " AND details IS NOT NULL ORDER BY id LIMIT 1"
        )
    ).one()
    by_tags = client.get(f"/api/books?select=id&tags=eq.{book.tags}&id=eq.{book.id}")
    assert by_tags.json == [{"id": str(book.id)}]
    by_details = client.get(
        "/api/books?select=id&details=eq." + quote(book.details) + f"&id=eq.{book.id}"
    )
    assert by_details.json == [{"id": str(book.id)}]
