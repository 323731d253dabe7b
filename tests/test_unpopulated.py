"""A materialized view created WITH NO DATA: pages say how to fill it, the API says so in its hint.

tests/shapes has one, `"Ops Data"."Pending Restock"`, never refreshed. PostgreSQL refuses to
read it (SQLSTATE 55000) until `REFRESH MATERIALIZED VIEW` runs.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import sqlalchemy as sa

SCHEMA, NAME = "Ops Data", "Pending Restock"
REFRESH = 'REFRESH MATERIALIZED VIEW "Ops Data"."Pending Restock"'
COLUMNS = ["sku", "site_code", "on_hand"]
BROWSE = f"/browse/{quote(SCHEMA)}/{quote(NAME)}"
API = f"/api/{quote(NAME)}"
PROFILE = {"Accept-Profile": SCHEMA}


def test_the_table_page_shows_the_columns_and_how_to_fill_it(shapes_client):
    response = shapes_client.get(BROWSE)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:500]
    assert "has not been populated" in html
    assert REFRESH.replace('"', "&#34;") in html
    for column in COLUMNS:
        assert f">{column}<" in html or f">{column} " in html, column
    assert "export.csv" not in html  # nothing to download until it is refreshed


def test_its_json_twin_says_the_same(shapes_client):
    response = shapes_client.get(BROWSE + "?_format=json")
    assert response.status_code == 200
    twin = response.json
    assert twin["columns"] == COLUMNS and twin["rows"] == []
    assert twin["unpopulated"] == REFRESH


def test_sorted_and_filtered_pages_show_the_note_too(shapes_client):
    response = shapes_client.get(BROWSE + "?order=on_hand.desc&on_hand=lt.3&_count=exact")
    assert response.status_code == 200
    assert "has not been populated" in response.get_data(as_text=True)


def test_the_structure_page_says_it_is_not_populated(shapes_client):
    response = shapes_client.get(BROWSE + "/structure")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:500]
    assert "has not been populated" in html and REFRESH.replace('"', "&#34;") in html
    assert all(column in html for column in COLUMNS)
    twin = shapes_client.get(BROWSE + "/structure?_format=json").json
    assert twin["unpopulated"] == REFRESH


def test_a_populated_materialized_view_has_no_note(shapes_client):
    for path in ("/browse/Ops%20Data/Daily%20Moves", "/browse/Ops%20Data/Daily%20Moves/structure"):
        assert "has not been populated" not in shapes_client.get(path).get_data(as_text=True)


def test_the_row_page_is_a_client_error(shapes_client):
    """A materialized view has no primary key, so no row pages: a 4xx, never a 500."""
    response = shapes_client.get(BROWSE + "/row?sku=x")
    assert 400 <= response.status_code < 500


def test_the_api_keeps_postgrests_status_with_a_hint_naming_the_refresh(shapes_client):
    for headers in (
        PROFILE,
        {**PROFILE, "Prefer": "count=exact"},
        {**PROFILE, "Accept": "text/csv"},
    ):
        response = shapes_client.get(API, headers=headers)
        assert response.status_code == 500  # PostgREST answers 55000 with a 500
        body = response.json
        assert body["code"] == "55000"
        assert "has not been populated" in body["message"]
        assert REFRESH in body["hint"]


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_the_export_answers_as_the_api_does(shapes_client, fmt):
    response = shapes_client.get(f"{BROWSE}/export.{fmt}", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.json["code"] == "55000" and REFRESH in response.json["hint"]
    page = shapes_client.get(f"{BROWSE}/export.{fmt}")
    assert page.mimetype == "text/html" and REFRESH.replace('"', "&#34;") in page.get_data(
        as_text=True
    )


def test_the_index_lists_it(shapes_client):
    response = shapes_client.get("/")
    assert response.status_code == 200 and NAME in response.get_data(as_text=True)
    twin = shapes_client.get("/?_format=json").json
    entries = {
        (schema["schema"], entry["name"]): entry
        for schema in twin["schemas"]
        for entry in schema["relations"]
    }
    assert entries[(SCHEMA, NAME)]["kind"] == "materialized view"


def test_after_a_refresh_the_page_shows_its_rows(shapes_app, isolate):
    connection = isolate(shapes_app)  # the refresh is rolled back after the test
    connection.execute(sa.text(REFRESH))
    client = shapes_app.test_client()
    twin = client.get(BROWSE + "?_format=json").json
    assert twin["unpopulated"] is None and twin["rows"]
    assert client.get(API, headers=PROFILE).status_code == 200
