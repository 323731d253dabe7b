"""PostgREST's media types (API reference, "Resource Representation" and "Media Type
Handlers"): vnd.pgrst.object with or without +json, nulls=stripped for arrays and objects,
and 406 PGRST107 for a type we cannot produce."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import Headers

from webapp.api.headers import (
    ARRAY_STRIPPED,
    CSV,
    JSON,
    OBJECT,
    OBJECT_STRIPPED,
    choose_format,
)
from webapp.pipeline.values import strip_nulls


@pytest.fixture
def bare_branch(db_connection):
    """A branch with neither opened_on nor phone (rolled back with the test)."""
    row = db_connection.execute(
        sa.text("INSERT INTO branches (name, city) VALUES ('Bare', 'Nowhere') RETURNING id")
    )
    return row.scalar_one()


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("application/vnd.pgrst.object+json", OBJECT),
        ("application/vnd.pgrst.object", OBJECT),
        ("application/vnd.pgrst.object+json;nulls=stripped", OBJECT_STRIPPED),
        ("application/vnd.pgrst.object; nulls=stripped", OBJECT_STRIPPED),
        ("application/vnd.pgrst.array+json;nulls=stripped", ARRAY_STRIPPED),
        ("application/vnd.pgrst.array;nulls=stripped", ARRAY_STRIPPED),
        ("application/vnd.pgrst.array+json", JSON),
        ("application/vnd.pgrst.array+json;nulls=kept", JSON),
        ("text/csv;q=0.5, application/vnd.pgrst.object+json", OBJECT),
        ("image/png, */*;q=0.1", JSON),
        ("text/csv", CSV),
    ],
)
def test_accept_is_read_as_postgrest_reads_it(accept, chosen):
    assert choose_format(Headers([("Accept", accept)])) == chosen


def test_object_without_json_suffix(client):
    response = client.get(
        "/api/branches?name=eq.Harbour&select=name,city",
        headers={"Accept": "application/vnd.pgrst.object"},
    )
    assert response.status_code == 200
    assert response.content_type == "application/vnd.pgrst.object+json"
    assert response.json == {"name": "Harbour", "city": response.json["city"]}


def test_array_with_nulls_stripped(client, bare_branch):
    response = client.get(
        f"/api/branches?id=eq.{bare_branch}",
        headers={"Accept": "application/vnd.pgrst.array+json;nulls=stripped"},
    )
    assert response.status_code == 200
    assert response.content_type == "application/vnd.pgrst.array+json;nulls=stripped"
    assert response.json == [{"id": bare_branch, "name": "Bare", "city": "Nowhere"}]


def test_object_with_nulls_stripped(client, bare_branch):
    response = client.get(
        f"/api/branches?id=eq.{bare_branch}&select=name,phone",
        headers={"Accept": "application/vnd.pgrst.object+json;nulls=stripped"},
    )
    assert response.status_code == 200
    assert response.content_type == "application/vnd.pgrst.object+json;nulls=stripped"
    assert response.json == {"name": "Bare"}


def test_nulls_stripped_object_still_needs_exactly_one_row(client):
    response = client.get(
        "/api/branches", headers={"Accept": "application/vnd.pgrst.object+json;nulls=stripped"}
    )
    assert response.status_code == 406
    assert response.json["code"] == "PGRST116"


def test_plain_json_keeps_nulls(client, bare_branch):
    response = client.get(f"/api/branches?id=eq.{bare_branch}&select=name,phone")
    assert response.content_type == "application/json"
    assert response.json == [{"name": "Bare", "phone": None}]


def test_strip_nulls_reaches_every_level_but_keeps_array_elements():
    data = [{"a": None, "b": {"c": None, "d": [None, {"e": None, "f": 1}]}}]
    assert strip_nulls(data) == [{"b": {"d": [None, {"f": 1}]}}]


def test_strip_nulls_does_not_recurse():
    deep: dict = {"x": None}
    for _ in range(5000):  # deeper than Python's recursion limit
        deep = {"next": deep, "gap": None}
    stripped = strip_nulls(deep)
    assert "gap" not in stripped and "gap" not in stripped["next"]


@pytest.mark.parametrize("accept", ["application/geo+json", "text/xml", "image/png"])
def test_a_media_type_we_cannot_produce_is_406(client, accept):
    response = client.get("/api/branches", headers={"Accept": accept})
    assert response.status_code == 406
    assert response.json["code"] == "PGRST107"
    assert response.json["message"] == f"None of these media types are available: {accept}"
    assert response.json["details"] is None
    assert "application/json" in response.json["hint"]
