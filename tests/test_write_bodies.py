"""Write bodies as PostgREST reads them: JSON without a Content-Type, CSV, a form, empty bodies.

Also: `columns=` with `Prefer: missing=default` on PATCH, an upsert of key columns only,
and a write's response carries a Content-Type only when it has a body.
"""

import json

import pytest
import sqlalchemy as sa

REPRESENTATION = {"Prefer": "return=representation"}


def _branches(db_connection):
    return db_connection.execute(sa.text("SELECT id, name, city FROM branches ORDER BY id")).all()


def test_a_body_without_content_type_is_json(client, db_connection):
    """Today: 415."""
    response = client.post(
        "/api/branches?select=name,city",
        data=json.dumps({"name": "Quayside", "city": "Port Ellis"}),
        headers=REPRESENTATION,
    )
    assert "Content-Type" not in response.request.headers
    assert response.status_code == 201, response.json
    assert response.json == [{"name": "Quayside", "city": "Port Ellis"}]


def test_a_csv_body_inserts_its_rows(client):
    body = 'name,city,opened_on\nQuayside,Port Ellis,2026-01-02\n"Mill, Lane",Kingsford,NULL\n'
    response = client.post(
        "/api/branches?select=name,city,opened_on",
        data=body,
        content_type="text/csv",
        headers=REPRESENTATION,
    )
    assert response.status_code == 201, response.json
    assert response.json == [
        {"name": "Quayside", "city": "Port Ellis", "opened_on": "2026-01-02"},
        {"name": "Mill, Lane", "city": "Kingsford", "opened_on": None},
    ]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("name,city\nA,B,C\n", "line 2 of the CSV body has 3 fields, its header 2"),
        ("", "no header line"),
        ("name,nope\nA,B\n", "column 'nope' does not exist"),
    ],
)
def test_a_bad_csv_body_is_a_400_writing_nothing(client, db_connection, body, fragment):
    before = _branches(db_connection)
    response = client.post("/api/branches", data=body, content_type="text/csv")
    assert response.status_code == 400
    assert fragment in response.json["message"]
    assert _branches(db_connection) == before


def test_a_form_posts_one_row(client):
    response = client.post(
        "/api/branches?select=name,city",
        data={"name": "Form Branch", "city": "Kingsford"},
        headers=REPRESENTATION,
    )
    assert response.request.mimetype == "application/x-www-form-urlencoded"
    assert response.status_code == 201, response.json
    assert response.json == [{"name": "Form Branch", "city": "Kingsford"}]


def test_other_media_types_are_415(client):
    response = client.post("/api/branches", data="name=x", content_type="text/plain")
    assert response.status_code == 415 and response.json["code"] == "PGRST102"


def test_an_empty_array_posts_nothing(client, db_connection):
    before = _branches(db_connection)
    represented = client.post("/api/branches", json=[], headers=REPRESENTATION)
    assert (represented.status_code, represented.json) == (201, [])
    minimal = client.post("/api/branches", json=[])
    assert minimal.status_code == 201 and minimal.get_data() == b""
    assert "Content-Type" not in minimal.headers
    assert _branches(db_connection) == before


@pytest.mark.parametrize("body", [{}, [{}], [{}, {}]])
def test_objects_without_keys_insert_rows_of_defaults(client, db_connection, body):
    """As PostgREST: each {} is a row of defaults (here branches.name has none: 23502)."""
    response = client.post("/api/branches", json=body)
    assert response.status_code == 400
    assert response.json["code"] == "23502" and '"name"' in response.json["message"]


@pytest.mark.parametrize("body", [{}, [], [{}]])
def test_an_empty_patch_changes_nothing(client, db_connection, body):
    before = _branches(db_connection)
    response = client.patch("/api/branches", json=body)
    assert response.status_code == 204 and response.get_data() == b""
    assert response.headers["Content-Range"] == "*/*"
    assert "Content-Type" not in response.headers
    represented = client.patch("/api/branches?select=id", json=body, headers=REPRESENTATION)
    assert (represented.status_code, represented.json) == (200, [])
    assert _branches(db_connection) == before


def test_patch_columns_with_missing_default_uses_each_default(client, db_connection):
    """Today: PATCH wrote NULL for a column of columns= missing from the body."""
    client.patch("/api/members?id=eq.1", json={"max_loans": 9})
    nulled = client.patch(
        "/api/members?id=eq.1&columns=full_name,max_loans", json={"full_name": "Renamed"}
    )
    assert nulled.status_code == 400 and nulled.json["code"] == "23502"  # max_loans NOT NULL
    response = client.patch(
        "/api/members?id=eq.1&columns=full_name,max_loans&select=full_name,max_loans",
        json={"full_name": "Renamed"},
        headers={"Prefer": "missing=default, return=representation"},
    )
    assert response.status_code == 200, response.json
    assert response.json == [{"full_name": "Renamed", "max_loans": 5}]
    assert response.headers["Preference-Applied"] == "missing=default, return=representation"


def test_post_columns_with_missing_default(client):
    response = client.post(
        "/api/members?columns=email,full_name,joined_at,home_branch_id,max_loans"
        "&select=email,max_loans,active",
        json={
            "email": "d@example.org",
            "full_name": "D",
            "joined_at": "2026-11-01T10:00:00Z",
            "home_branch_id": 1,
        },
        headers={"Prefer": "missing=default, return=representation"},
    )
    assert response.status_code == 201, response.json
    assert response.json == [{"email": "d@example.org", "max_loans": 5, "active": True}]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("post", "/api/branches", {"json": {"name": "N1", "city": "C"}}, 201),
        ("patch", "/api/branches?id=eq.1", {"json": {"phone": "1"}}, 204),
        ("delete", "/api/wishlist?member_id=eq.3", {}, 204),
        (
            "post",
            "/api/branches",
            {"json": {"name": "N2", "city": "C"}, "headers": {"Prefer": "return=headers-only"}},
            201,
        ),
    ],
)
def test_a_write_without_body_has_no_content_type(client, method, path, kwargs, status):
    """Today: the empty 201/204 said Content-Type: text/html."""
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert response.get_data() == b""
    assert "Content-Type" not in response.headers
