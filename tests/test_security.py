"""Hidden tables and columns, the body cap, and security headers."""

import pytest


@pytest.fixture(scope="module")
def hiding_app(make_app):
    return make_app(
        keep=True,
        HIDDEN="public.authors,public.members.email,reporting.branch_targets.note",
        MAX_BODY_BYTES="2000",
    )


def test_hidden_relations_and_columns_are_never_served(hiding_app):
    client = hiding_app.test_client()
    assert client.get("/api/authors").status_code == 404
    members = client.get("/api/members?limit=1").json
    assert "email" not in members[0] and "full_name" in members[0]
    assert client.get("/api/members?email=eq.x").status_code == 400
    assert client.get("/api/members?select=email").status_code == 400
    embedded = client.get("/api/books?select=title,authors(name)")  # as if it did not exist
    assert embedded.status_code == 400 and embedded.json["code"] == "PGRST200"
    targets = client.get("/api/branch_targets?limit=1", headers={"Accept-Profile": "reporting"})
    assert "note" not in targets.json[0]
    write = client.patch("/api/members?id=eq.1", json={"email": "x@y.z"})
    assert write.status_code == 400 and write.json["code"] == "PGRST204"


def test_hidden_things_are_not_described(hiding_app):
    client = hiding_app.test_client()
    document = client.get("/api/openapi.json").json
    assert "/authors" not in document["paths"]
    assert "email" not in document["components"]["schemas"]["members"]["properties"]
    assert "authors" not in client.get("/").get_data(as_text=True).split("<h2>")[1]


def test_body_cap(hiding_app):
    response = hiding_app.test_client().post(
        "/api/branches",
        data="[" + ",".join(['{"name":"x","city":"y"}'] * 200) + "]",
        content_type="application/json",
    )
    assert response.status_code == 413 and response.json["code"] == "HTTP413"


@pytest.mark.parametrize("path", ["/", "/api/branches?limit=1", "/api/nope", "/live"])
def test_security_headers(client, path):
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in headers["Content-Security-Policy"]


def test_admin_takes_only_a_bearer_token(make_app):
    token = "an-admin-token-of-at-least-24"
    client = make_app(ADMIN_TOKEN=token).test_client()
    for header in (token, f"Token {token}", f"Bearer{token}", f"Basic {token}"):
        refused = client.post("/admin/reload", headers={"Authorization": header})
        assert refused.status_code == 401, header
    assert client.post("/admin/reload", headers={"Authorization": f"Bearer {token}"}).json["ok"]
