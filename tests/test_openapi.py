"""The OpenAPI 3.1 document: valid, complete, and true to the catalog."""

import pytest
from openapi_spec_validator import validate


@pytest.mark.parametrize("schema", ["public", "reporting"])
def test_document_is_valid_openapi_31(client, app, schema):
    response = client.get("/api/openapi.json", headers={"Accept-Profile": schema})
    assert response.status_code == 200
    document = response.json
    validate(document)
    assert document["openapi"] == "3.1.0"
    catalog = app.extensions["pgfront"].catalogs.current
    relations = {f"/{rel.name}" for rel in catalog.in_schema(schema)}
    functions = {f"/rpc/{name}" for (sch, name) in catalog.functions if sch == schema}
    assert set(document["paths"]) == relations | functions


def test_columns_types_keys_and_comments(client):
    document = client.get("/api/").json
    books = document["components"]["schemas"]["books"]
    props = books["properties"]
    assert props["id"]["format"] == "uuid" and "Primary key." in props["id"]["description"]
    assert props["published_on"] == {
        **props["published_on"],
        "type": ["string", "null"],
        "format": "date",
    }
    assert props["price"]["type"] == ["number", "null"]
    assert props["tags"]["type"] == "array" and props["tags"]["items"]["type"] == [
        "string",
        "null",
    ]  # elements may be NULL
    assert props["cover"]["contentEncoding"] == "base64"
    assert props["genre"]["enum"][0] == "fiction"
    assert "Foreign key to authors.id." in props["author_id"]["description"]
    assert props["pages"]["type"] == ["integer", "null"]
    assert books["description"].startswith("Catalogue entries")
    assert set(books["required"]) == {"isbn", "title", "author_id", "genre"}
    loans = document["components"]["schemas"]["loans"]["properties"]
    assert loans["id"]["format"] == "int64" and loans["extension"]["format"] == "duration"


def test_operations_follow_what_postgresql_allows(client):
    paths = client.get("/api/openapi.json").json["paths"]
    assert {"get", "post", "patch", "delete"} <= set(paths["/books"])
    assert "post" not in paths["/overdue_loans"] and "get" in paths["/overdue_loans"]
    assert "patch" not in paths["/book_popularity"]


def test_unknown_profile_is_406(client):
    assert client.get("/api/openapi.json", headers={"Accept-Profile": "x"}).status_code == 406


def test_odd_relation_names_give_valid_keys_and_encoded_paths(shapes_client):
    document = shapes_client.get("/api/openapi.json").json
    validate(document)  # component keys may hold [a-zA-Z0-9._-] only
    item = document["paths"]["/Q%26A%20%231%3F%2050%25"]  # the path as a client sends it
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/Q_A__1__50_"
    }
    assert "/Stock%20Moves" in document["paths"]
