"""Error codes and statuses as PostgREST's docs list them ("Errors": the PGRST tables and the
SQLSTATE-to-HTTP table), each case a request and the exact answer a client gets."""

from __future__ import annotations

import time

import jwt
import pytest

from webapp.errors import status_for_sqlstate

SECRET = "a-test-secret-of-at-least-32-bytes!!"


def _error(code, message, details=None, hint=None):
    return {"code": code, "message": message, "details": details, "hint": hint}


# --- Group 2: schema cache --------------------------------------------------------------


def test_an_unknown_table_is_pgrst205(client):
    response = client.get("/api/faketable")
    assert response.status_code == 404
    assert response.json == _error(
        "PGRST205", "Could not find the table 'public.faketable' in the schema cache"
    )


def test_an_unknown_table_close_to_a_served_one_gets_a_hint(client):
    response = client.get("/api/book")
    assert response.status_code == 404
    assert response.json == _error(
        "PGRST205",
        "Could not find the table 'public.book' in the schema cache",
        hint="Perhaps you meant the table 'public.books'",
    )


def test_an_unknown_table_of_another_schema_names_that_schema(client):
    response = client.get("/api/nothing", headers={"Accept-Profile": "reporting"})
    assert response.json["message"] == (
        "Could not find the table 'reporting.nothing' in the schema cache"
    )


def test_an_unknown_column_is_postgresql_42703(client):
    response = client.get("/api/branches?nope=eq.1")
    assert response.status_code == 400
    assert response.json["code"] == "42703" and "nope" in response.json["message"]


def test_an_embed_of_an_unknown_relation_is_pgrst200(client):
    response = client.get("/api/branches?select=name,nothing(*)")
    assert response.status_code == 400
    assert response.json["code"] == "PGRST200"
    assert response.json["message"] == (
        "Could not find a relationship between 'branches' and 'nothing' in the schema cache"
    )


# --- Group 1: the request ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "embed"),
    [
        ("select=*&nothing.name=eq.x", "nothing"),
        ("select=*,members(id)&memberz.id=eq.1", "memberz"),
        ("select=id,members(id,branches(id))&members.branchez.id=eq.1", "branchez"),
        ("select=id&nothing.or=(id.eq.1)", "nothing"),
    ],
)
def test_a_filter_on_a_resource_not_embedded_is_pgrst108(client, query, embed):
    response = client.get(f"/api/branches?{query}")
    assert response.status_code == 400
    assert response.json == _error(
        "PGRST108",
        f"Cannot apply filter because '{embed}' is not an embedded resource in this request",
        hint=f"Verify that '{embed}' is included in the 'select' query parameter.",
    )


@pytest.mark.parametrize("query", ["limit=-1", "select=name,members(id)&members.limit=-2"])
def test_a_negative_limit_is_416_pgrst103(client, query):
    response = client.get(f"/api/branches?{query}")
    assert response.status_code == 416
    assert response.json["code"] == "PGRST103"
    assert response.json["details"] == "Limit should be greater than or equal to zero."


@pytest.mark.parametrize(
    "query",
    [
        "id=in.(1,2))",  # an extra closing parenthesis
        "or=(id.eq.1,id.eq.2))",
        "and=(id.eq.1))",
        "select=id,name)",
        "select=id,members(id))",
        'name=in.(")',  # a lone double quote
        'name=in.("Harbour)',
        'name=in.("Harbour"x)',  # text after a closing quote
        "id=in.1,2",
        "limit=1.5",
        "order=name.sideways",
    ],
)
def test_malformed_query_strings_are_pgrst100(client, query):
    response = client.get(f"/api/branches?{query}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["code"] == "PGRST100"


def test_in_lists_quote_values_as_wholes(client):
    response = client.get('/api/branches?select=name&name=in.( "Harbour" ,"x,y")')
    assert response.status_code == 200 and response.json == [{"name": "Harbour"}]
    quote_inside = client.get('/api/branches?select=name&name=in.(O"Brien)')
    assert quote_inside.status_code == 200 and quote_inside.json == []


def test_an_empty_in_list_matches_nothing_as_in_postgrest(client):
    assert client.get("/api/branches?id=in.()").json == []
    every = client.get("/api/branches?select=id&id=not.in.()")
    assert every.status_code == 200 and len(every.json) == 6


@pytest.mark.parametrize(
    ("query", "fragment"),
    [("id=eq.one", "column 'id'"), ("opened_on=lt.yesterday", "opened_on")],
)
def test_a_value_its_column_cannot_read_is_22p02(client, query, fragment):
    response = client.get(f"/api/branches?{query}")
    assert response.status_code == 400
    assert response.json["code"] == "22P02" and fragment in response.json["message"]


def test_a_path_no_route_serves_is_pgrst125(client):
    response = client.get("/api/branches/1")
    assert response.status_code == 404
    assert response.json == _error("PGRST125", "Invalid path specified in request URL")


def test_a_method_no_route_takes_is_pgrst117(client):
    response = client.open("/api/branches", method="TRACE")
    assert response.status_code == 405
    assert response.json == _error("PGRST117", "Unsupported HTTP method: TRACE")


def test_pages_keep_their_own_404(client):
    response = client.get("/browse/public/branches/nope/more", headers={"Accept": "text/html"})
    assert response.status_code == 404 and response.mimetype == "text/html"


# --- Group 3: JWT -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def secured(make_app):
    return make_app(keep=True, DB_ANON_ROLE="web_anon", JWT_SECRET=SECRET).test_client()


def _bearer(**claims):
    payload = {"role": "web_user", "exp": int(time.time()) + 60, **claims}
    return {"Authorization": "Bearer " + jwt.encode(payload, SECRET, algorithm="HS256")}


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Authorization": "Bearer not-a-token"}, "PGRST301"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "PGRST301"),
        (
            {"Authorization": "Bearer " + jwt.encode({"role": "web_user"}, "x" * 40)},
            "PGRST301",
        ),  # signed with another key
        (_bearer(exp=int(time.time()) - 3600), "PGRST303"),  # expired
        (_bearer(nbf=int(time.time()) + 3600), "PGRST303"),  # not valid yet
        (_bearer(exp="soon"), "PGRST303"),
        (_bearer(aud=5), "PGRST303"),
    ],
)
def test_token_errors_are_401_with_postgrest_codes(secured, headers, code):
    response = secured.get("/api/books?limit=1", headers=headers)
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.json["code"] == code
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="')


def test_a_token_sent_to_a_server_without_keys_is_pgrst300(client):
    response = client.get("/api/books?limit=1", headers=_bearer())
    assert response.status_code == 500
    assert response.json["code"] == "PGRST300"


def test_a_token_role_that_does_not_exist_is_401(secured):
    response = secured.get("/api/books?limit=1", headers=_bearer(role="no_such_role"))
    assert response.status_code == 401
    assert response.json["code"] == "22023"


# --- PostgreSQL's errors: PostgREST's SQLSTATE -> status table --------------------------


@pytest.mark.parametrize(
    ("sqlstate", "message", "status"),
    [
        ("08006", "", 503),
        ("09000", "", 500),
        ("0L000", "", 403),
        ("0P000", "", 403),
        ("23503", "", 409),
        ("23505", "", 409),
        ("23502", "", 400),
        ("23514", "", 400),
        ("23P01", "", 400),
        ("25006", "", 405),
        ("25001", "", 500),
        ("28000", "", 403),
        ("2D000", "", 500),
        ("38000", "", 500),
        ("39000", "", 500),
        ("3B000", "", 500),
        ("40001", "", 500),
        ("53400", "", 500),
        ("53300", "", 503),
        ("55000", "", 500),
        ("57P01", "", 503),
        ("57000", "", 500),
        ("58000", "", 500),
        ("F0000", "", 500),
        ("HV000", "", 500),
        ("P0001", "", 400),
        ("P0002", "", 500),
        ("XX000", "", 500),
        ("42883", "", 404),
        ("42P01", "", 404),
        ("42P17", 'infinite recursion detected in policy for relation "x"', 500),
        ("42501", "", 403),  # 401 for an anonymous request: see test_auth
        ("42703", "", 400),
        ("22P02", "", 400),
        ("21000", "more than one row returned by a subquery used as an expression", 500),
        ("21000", "DELETE requires a WHERE clause", 400),
        ("22023", 'role "ghost" does not exist', 401),
        ("22023", "invalid value for parameter", 400),
    ],
)
def test_sqlstates_map_to_postgrest_statuses(sqlstate, message, status):
    assert status_for_sqlstate(sqlstate, message) == status
