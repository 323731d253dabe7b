"""Writes: POST (one or many, upsert), PATCH and DELETE; all or nothing, errors by SQLSTATE."""

import pytest
import sqlalchemy as sa

REPRESENTATION = {"Prefer": "return=representation"}


def _branch_count(db_connection):
    return db_connection.execute(sa.text("SELECT count(*) FROM branches")).scalar()


def _author_id(db_connection):
    return db_connection.execute(sa.text("SELECT min(id) FROM authors")).scalar()


def _book(author_id, n, **extra):
    return {
        "isbn": f"{9990000000000 + n}",
        "title": f"Test book {n}",
        "author_id": author_id,
        "genre": "poetry",
        **extra,
    }


def test_post_one_object_returns_it(client, db_connection):
    body = {"name": "Seaside", "city": "Portsea", "opened_on": "2026-01-02"}
    response = client.post("/api/branches", json=body, headers=REPRESENTATION)
    assert response.status_code == 201
    (row,) = response.json
    assert row["name"] == "Seaside" and row["opened_on"] == "2026-01-02" and row["id"] > 6
    assert _branch_count(db_connection) == 7


def test_post_minimal_and_headers_only(client):
    minimal = client.post("/api/branches", json={"name": "A", "city": "X"})
    assert minimal.status_code == 201 and minimal.get_data() == b""
    located = client.post(
        "/api/branches", json={"name": "B", "city": "Y"}, headers={"Prefer": "return=headers-only"}
    )
    assert located.status_code == 201
    assert located.headers["Location"].startswith("/api/branches?id=eq.")
    assert client.get(located.headers["Location"]).json[0]["name"] == "B"


def test_post_array_of_many_rows_in_one_statement(client, db_connection):
    author = _author_id(db_connection)
    books = [_book(author, n, price=f"{n}.25", tags=["t", str(n)]) for n in range(1000)]
    response = client.post("/api/books", json=books, headers=REPRESENTATION)
    assert response.status_code == 201, response.json
    assert len(response.json) == 1000
    assert response.json[999]["tags"] == ["t", "999"]


@pytest.mark.parametrize(
    ("bad", "status", "fragment"),
    [
        ({"pages": "many"}, 400, "row 500: 'many' is not an integer"),
        ({"pages": {"n": 1}}, 400, "row 500: column 'pages' takes a single value"),
        ({"pages": 1.5}, 400, "row 500: 1.5 is not an integer"),
        ({"cover": "not base64!"}, 400, "row 500: column 'cover' takes base64"),
        ({"pages": -1}, 400, "books_pages_check"),
        ({"isbn": "9990000000001"}, 409, "duplicate key"),
        ({"author_id": 999999}, 409, "foreign key"),
    ],
)
def test_one_bad_row_writes_nothing(client, db_connection, bad, status, fragment):
    author = _author_id(db_connection)
    books = [_book(author, n) for n in range(1000)]
    books[500].update(bad)
    before = db_connection.execute(sa.text("SELECT count(*) FROM books")).scalar()
    response = client.post("/api/books", json=books)
    assert response.status_code == status
    assert fragment in response.json["message"] + (response.json["details"] or "")
    assert db_connection.execute(sa.text("SELECT count(*) FROM books")).scalar() == before


def test_missing_default_and_columns(client):
    row = {
        "email": "new@example.org",
        "full_name": "New Member",
        "joined_at": "2026-11-01T10:00:00Z",
        "home_branch_id": 1,
    }
    without = client.post(
        "/api/members", json=[row, {**row, "email": "n2@example.org", "max_loans": 3}]
    )
    assert without.status_code == 400 and without.json["code"] == "23502"  # max_loans null
    with_default = client.post(
        "/api/members",
        json=[row, {**row, "email": "n2@example.org", "max_loans": 3}],
        headers={"Prefer": "return=representation, missing=default"},
    )
    assert [r["max_loans"] for r in with_default.json] == [5, 3]
    assert [r["active"] for r in with_default.json] == [True, True]
    only = client.post(
        "/api/branches?columns=name,city",
        json={"name": "C", "city": "Z", "phone": "ignored"},
        headers=REPRESENTATION,
    )
    assert only.json[0]["phone"] is None


def test_upsert(client):
    merged = client.post(
        "/api/branches?on_conflict=name",
        json=[{"name": "Harbour", "city": "New Port"}, {"name": "Dockside", "city": "Portsea"}],
        headers={"Prefer": "resolution=merge-duplicates, return=representation"},
    )
    assert merged.status_code == 201
    assert {r["name"]: r["city"] for r in merged.json} == {
        "Harbour": "New Port",
        "Dockside": "Portsea",
    }
    ignored = client.post(
        "/api/branches?on_conflict=name",
        json={"name": "Harbour", "city": "Elsewhere"},
        headers={"Prefer": "resolution=ignore-duplicates, return=representation"},
    )
    assert ignored.json == []
    assert client.get("/api/branches?name=eq.Harbour").json[0]["city"] == "New Port"
    keyless = client.post("/api/overdue_loans", json={"loan_id": 1})
    assert keyless.status_code == 405


def test_upsert_by_primary_key_in_another_schema(client):
    body = {"branch_id": 1, "month": "2025-01-01", "target_loans": 999}
    response = client.post(
        "/api/branch_targets",
        json=body,
        headers={
            "Content-Profile": "reporting",
            "Prefer": "resolution=merge-duplicates,return=representation",
        },
    )
    assert response.status_code == 200  # merged into the existing row: nothing inserted
    assert response.json[0]["target_loans"] == 999


def test_patch_and_delete_with_filters(client, db_connection):
    patched = client.patch(
        "/api/branches?name=eq.Harbour", json={"phone": "+1 555"}, headers=REPRESENTATION
    )
    assert patched.status_code == 200 and patched.json[0]["phone"] == "+1 555"
    assert client.patch("/api/branches?name=eq.Nowhere", json={"phone": "x"}).status_code == 204
    created = client.post(
        "/api/branches", json={"name": "Temp", "city": "T"}, headers=REPRESENTATION
    )
    temp_id = created.json[0]["id"]
    deleted = client.delete(f"/api/branches?id=eq.{temp_id}", headers=REPRESENTATION)
    assert deleted.status_code == 200 and deleted.json[0]["name"] == "Temp"
    assert client.get(f"/api/branches?id=eq.{temp_id}").json == []


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_writes_without_filter_are_refused(client, db_connection, method):
    response = getattr(client, method)("/api/branches", json={"phone": "x"})
    assert response.status_code == 400
    assert "a filter is required" in response.json["message"]
    assert _branch_count(db_connection) == 6


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("post", "/api/book_popularity", {"json": {"title": "x"}}, 405, "PGRST205"),
        ("delete", "/api/overdue_loans?loan_id=eq.1", {}, 405, "PGRST205"),
        (
            "post",
            "/api/branches",
            {"data": "{not json", "content_type": "application/json"},
            400,
            "PGRST102",
        ),
        (
            "post",
            "/api/branches",
            {"data": "name=x", "content_type": "text/plain"},
            415,
            "PGRST102",
        ),
        ("post", "/api/branches", {"json": [1, 2]}, 400, "PGRST102"),
        ("post", "/api/branches", {"json": {"nope": 1}}, 400, "PGRST204"),
        (
            "post",
            "/api/branches",
            {"data": "[" * 100000, "content_type": "application/json"},
            400,
            "PGRST102",
        ),
        (
            "patch",
            "/api/branches?id=eq.1",
            {"json": [{"city": "a"}, {"city": "b"}]},
            400,
            "PGRST102",
        ),
        (
            "post",
            "/api/branches?on_conflict=nope",
            {
                "json": {"name": "x", "city": "y"},
                "headers": {"Prefer": "resolution=merge-duplicates"},
            },
            400,
            "42703",
        ),
    ],
)
def test_bad_writes_are_client_errors(client, db_connection, method, path, kwargs, status, code):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status, response.json
    assert response.json["code"] == code
    assert _branch_count(db_connection) == 6


def test_read_only_switch_refuses_writes(make_app):
    client = make_app(READ_ONLY="true").test_client()
    for method in ("post", "patch", "delete"):
        response = getattr(client, method)("/api/branches?id=eq.1", json={"city": "x"})
        assert response.status_code == 405
        assert response.json["message"] == "this API is read-only"
    assert client.get("/api/branches?limit=1").status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/api/members?id=eq.1", {"active": 2}, "does not fit column 'active'"),
        (
            "/api/books?isbn=eq.9780000000001",
            {"genre": 5},
            "column 'genre' takes one of its values",
        ),
        ("/api/books?isbn=eq.9780000000001", {"tags": [1, {"a": 1}]}, "array of plain values"),
        ("/api/books?isbn=eq.9780000000001", {"pages": True}, "does not fit column 'pages'"),
    ],
)
def test_json_values_of_the_wrong_shape(client, path, body, fragment):
    response = client.patch(path, json=body)
    assert response.status_code == 400
    assert fragment in response.json["message"]


def test_upsert_with_a_repeated_key_is_a_client_error(client, db_connection):
    response = client.post(
        "/api/branches?on_conflict=name",
        json=[{"name": "Dup", "city": "A"}, {"name": "Dup", "city": "B"}],
        headers={"Prefer": "resolution=merge-duplicates"},
    )
    assert response.status_code == 400 and response.json["code"] == "21000"
    assert _branch_count(db_connection) == 6


def test_accept_on_writes(client, db_connection):
    two = [{"name": "X1", "city": "c"}, {"name": "X2", "city": "c"}]
    refused = client.post(
        "/api/branches",
        json=two,
        headers={"Prefer": "return=representation", "Accept": "application/vnd.pgrst.object+json"},
    )
    assert refused.status_code == 406
    assert _branch_count(db_connection) == 6  # rolled back
    as_csv = client.post(
        "/api/branches?columns=name,city",
        json=two,
        headers={"Prefer": "return=representation", "Accept": "text/csv"},
    )
    assert as_csv.mimetype == "text/csv" and as_csv.get_data(as_text=True).count("\n") == 3
    patched = client.patch(
        "/api/branches?name=eq.X1",
        json={"city": "d"},
        headers={"Prefer": "return=representation, count=exact, missing=default"},
    )
    # PostgREST's order; count= is reported on a write too
    assert patched.headers["Preference-Applied"] == (
        "missing=default, return=representation, count=exact"
    )


def test_too_many_values_for_one_statement(client, db_connection):
    rows = [{"name": f"a{i}", "born_on": None, "country": None, "bio": None} for i in range(17000)]
    response = client.post("/api/authors", json=rows)
    assert response.status_code == 413 and "at most 15000 rows" in response.json["hint"]


def test_a_row_posted_into_a_partition_gets_its_key_from_the_partitioned_table(
    client, db_connection
):
    """The partition's id comes from the parent's identity (PostgreSQL 17 and later; before,
    a partition has no identity of its own): a 201 or a 400, never a 500 or a warning."""
    headers = {"Content-Profile": "reporting", "Prefer": "return=representation"}
    row = {"loan_id": 1, "kind": "returned", "occurred_at": "2025-03-01T00:00:00Z"}
    response = client.post("/api/loan_events_2025", json=row, headers=headers)
    version = db_connection.execute(sa.text("SHOW server_version_num")).scalar()
    if int(version) < 170000:
        assert response.status_code == 400 and response.get_json()["code"] == "23502"
        return
    assert response.status_code == 201, response.get_json()
    assert isinstance(response.get_json()[0]["id"], int)
    wrong_year = dict(row, occurred_at="2024-03-01T00:00:00Z")
    refused = client.post("/api/loan_events_2025", json=wrong_year, headers=headers)
    assert refused.status_code == 400 and refused.get_json()["code"] == "23514"
