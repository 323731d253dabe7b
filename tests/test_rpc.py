"""Functions as RPC (PostgREST's /rpc/<name>): calls, result shapes, read grammar, errors, roles."""

import time

import jwt
import pytest
import sqlalchemy as sa

from db.sqlfiles import apply_sql_dir

SECRET = "a-test-secret-of-at-least-32-bytes!!"


def _token(**claims):
    payload = {"role": "web_user", "exp": int(time.time()) + 60, **claims}
    return {"Authorization": "Bearer " + jwt.encode(payload, SECRET, algorithm="HS256")}


def _open_loan(db_connection) -> int:
    return db_connection.execute(
        sa.text("SELECT id FROM loans WHERE returned_at IS NULL ORDER BY id LIMIT 1")
    ).scalar_one()


# -- result shapes -----------------------------------------------------------------------------


def test_a_scalar_is_returned_as_itself_by_get_and_post(client, db_connection):
    poetry = db_connection.execute(
        sa.text("SELECT count(*) FROM books WHERE genre = 'poetry'")
    ).scalar_one()
    by_get = client.get("/api/rpc/book_count?of_genre=poetry")
    assert by_get.status_code == 200 and by_get.json == poetry
    assert by_get.mimetype == "application/json"
    assert client.post("/api/rpc/book_count", json={"of_genre": "poetry"}).json == poetry
    counted = client.get("/api/rpc/book_count", headers={"Prefer": "count=exact"})
    assert counted.headers["Content-Range"] == "0-0/1"


def test_set_returning_function_takes_the_read_grammar(client):
    every = client.get("/api/rpc/search_books?q=archive&select=title").json
    assert every and all("archive" in row["title"].lower() for row in every)
    assert every == sorted(every, key=lambda row: row["title"])  # the function's own order
    page = client.get(
        "/api/rpc/search_books?q=archive&select=title,pages&pages=gt.100"
        "&order=title.desc&limit=2&offset=1"
    )
    assert page.status_code == 200
    assert [set(row) for row in page.json] == [{"title", "pages"}] * 2
    expected = sorted(
        (
            row
            for row in client.get("/api/rpc/search_books?q=archive&select=title,pages").json
            if row["pages"] and row["pages"] > 100
        ),
        key=lambda row: row["title"],
        reverse=True,
    )[1:3]
    assert page.json == expected
    assert page.headers["Content-Range"] == "1-2/*"


def test_head_answers_the_headers_alone(client):
    total = len(client.get("/api/rpc/search_books?q=archive&select=title").json)
    head = client.head("/api/rpc/search_books?q=archive", headers={"Prefer": "count=exact"})
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Range"] == f"0-{total - 1}/{total}"


def test_post_arguments_with_filters_in_the_query_string(client):
    posted = client.post("/api/rpc/search_books?select=title&limit=1", json={"q": "archive"})
    assert posted.status_code == 200 and len(posted.json) == 1


def test_counts_range_and_partial_content(client):
    total = len(client.get("/api/rpc/search_books?q=archive&select=title").json)
    counted = client.get(
        "/api/rpc/search_books?q=archive&select=title",
        headers={"Range": "0-1", "Prefer": "count=exact"},
    )
    assert counted.status_code == 206
    assert counted.headers["Content-Range"] == f"0-1/{total}"
    assert len(counted.json) == 2


def test_rows_of_a_table_embed_its_relationships(client):
    rows = client.get("/api/rpc/search_books?q=archive&select=title,authors(name)&limit=3").json
    assert len(rows) == 3 and all(isinstance(row["authors"]["name"], str) for row in rows)
    copies = client.get("/api/rpc/search_books?q=archive&select=title,copies(copy_no)&limit=2")
    assert all(isinstance(row["copies"], list) for row in copies.json)


def test_returns_table_rows_filter_and_order_by_their_columns(client):
    rows = client.get("/api/rpc/copies_per_branch?copies=gt.0&order=copies.desc").json
    assert [set(row) for row in rows] == [{"branch_id", "branch", "copies"}] * len(rows)
    assert [row["copies"] for row in rows] == sorted((row["copies"] for row in rows), reverse=True)
    central = client.get("/api/rpc/copies_per_branch?branch=eq.Central")
    assert [row["branch"] for row in central.json] == ["Central"]
    refused = client.get("/api/rpc/copies_per_branch?nothing=eq.1")
    assert refused.status_code == 400 and refused.json["code"] == "42703"


def test_csv_and_single_object(client):
    csv = client.get(
        "/api/rpc/copies_per_branch?select=branch&branch=eq.Central", headers={"Accept": "text/csv"}
    )
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).split() == [
        "branch",
        "Central",
    ]
    one = client.get(
        "/api/rpc/copies_per_branch?select=branch&branch=eq.Central",
        headers={"Accept": "application/vnd.pgrst.object+json"},
    )
    assert one.json == {"branch": "Central"}
    many = client.get(
        "/api/rpc/copies_per_branch", headers={"Accept": "application/vnd.pgrst.object+json"}
    )
    assert many.status_code == 406 and many.json["code"] == "PGRST116"


def test_variadic_by_repeated_parameters_and_by_array(client):
    one = client.get("/api/rpc/tagged?wanted=signed&select=tags")
    assert one.status_code == 200 and one.json
    assert all("signed" in row["tags"] for row in one.json)
    two = client.get("/api/rpc/tagged?wanted=signed&wanted=staff-pick&select=tags").json
    assert all({"signed", "staff-pick"} <= set(row["tags"]) for row in two)
    posted = client.post("/api/rpc/tagged?select=tags", json={"wanted": ["signed", "staff-pick"]})
    assert posted.json == two


def test_one_row_of_a_table_is_an_object_and_void_is_204(client, db_connection):
    loan = _open_loan(db_connection)
    due = db_connection.execute(sa.text("SELECT due_on FROM loans WHERE id = :id"), {"id": loan})
    before = due.scalar_one()
    renewed = client.post("/api/rpc/renew_loan", json={"loan_id": loan, "days": 7})
    assert renewed.status_code == 200
    assert renewed.json["id"] == loan and renewed.json["due_on"] == str(
        before + __import__("datetime").timedelta(days=7)
    )
    returned = client.post("/api/rpc/return_copy", json={"loan_id": loan})
    assert returned.status_code == 204 and returned.data == b""
    assert "Content-Type" not in returned.headers


def test_a_json_object_of_unnamed_arguments_uses_defaults(client):
    default = client.post("/api/rpc/book_count", json={})
    assert default.status_code == 200 and default.json == client.get("/api/rpc/book_count").json


# -- overloads and errors -----------------------------------------------------------------------


def test_overloads_are_told_apart_by_argument_names(client, db_connection):
    by_author = db_connection.execute(
        sa.text("SELECT count(*) FROM books WHERE author_id = 3")
    ).scalar_one()
    assert client.get("/api/rpc/book_count?by_author=3").json == by_author
    assert (
        client.get("/api/rpc/book_count").json
        == db_connection.execute(sa.text("SELECT count(*) FROM books")).scalar_one()
    )


def test_unknown_function_or_argument_is_pgrst202(client):
    missing = client.get("/api/rpc/serch_books?q=x")
    assert missing.status_code == 404
    assert missing.json == {
        "code": "PGRST202",
        "message": "Could not find the function public.serch_books(q) in the schema cache",
        "details": "Searched for the function public.serch_books with parameter q, "
        "but no matches were found in the schema cache.",
        "hint": "Perhaps you meant to call the function public.search_books",
    }
    extra = client.post("/api/rpc/search_books", json={"q": "x", "limit": 3})
    assert extra.status_code == 404 and extra.json["code"] == "PGRST202"
    assert extra.json["hint"] == "Perhaps you meant to call the function public.search_books(q)"
    none = client.get("/api/rpc/search_books")
    assert none.status_code == 404 and "without parameters" in none.json["message"]


def test_raise_maps_to_status_code_and_headers(client, db_connection):
    custom = client.post("/api/rpc/renew_loan", json={"loan_id": 0})
    assert custom.status_code == 404
    assert custom.json == {
        "code": "LOAN1",
        "message": "no open loan 0",
        "details": None,
        "hint": None,
    }
    assert custom.headers["X-Loan"] == "0"
    plain = client.post(
        "/api/rpc/renew_loan", json={"loan_id": _open_loan(db_connection), "days": 99}
    )
    assert plain.status_code == 400 and plain.json["code"] == "P0001"
    assert plain.json["hint"] == "send days between 1 and 28"
    pt = client.post("/api/rpc/return_copy", json={"loan_id": 0})
    assert pt.status_code == 409 and pt.json["code"] == "PT409"
    assert pt.json["message"] == "loan 0 is not open"


def test_bad_bodies_and_methods(client):
    invalid = client.post(
        "/api/rpc/book_count", data="{nope", headers={"Content-Type": "application/json"}
    )
    assert invalid.status_code == 400 and invalid.json["code"] == "PGRST102"
    wrong_type = client.post("/api/rpc/book_count", json={"of_genre": "opera"})
    assert wrong_type.status_code == 400 and wrong_type.json["code"] == "22P02"
    deleted = client.delete("/api/rpc/book_count")
    assert deleted.status_code == 405
    assert deleted.json["message"] == "Cannot use the DELETE method on RPC"
    assert deleted.json["code"] == "PGRST101"
    cursor = client.get("/api/rpc/search_books?q=x&cursor=abc")
    assert cursor.status_code == 400


def test_a_lone_surrogate_in_the_arguments_is_a_400(client):
    refused = client.post(
        "/api/rpc/search_books", data='{"q": "\\ud800"}', content_type="application/json"
    )
    assert refused.status_code == 400 and refused.json["code"] == "PGRST102"


def test_arguments_never_reach_sql_text(client):
    hostile = "x'); DROP TABLE books; --"
    assert client.get("/api/rpc/search_books", query_string={"q": hostile}).json == []
    name = client.post("/api/rpc/book_count", json={'of_genre" => 1); --': 1})
    assert name.status_code == 404 and name.json["code"] == "PGRST202"
    assert client.get("/api/books?limit=1").status_code == 200


# -- transactions, roles and the request's settings ---------------------------------------------


@pytest.fixture(scope="module")
def served(make_app, authenticator_url):
    """The sample served through the login role, as web_anon unless a token names a role."""
    return make_app(
        keep=True,
        DATABASE_URL=authenticator_url.render_as_string(hide_password=False),
        DB_ANON_ROLE="web_anon",
        JWT_SECRET=SECRET,
    )


def test_get_runs_read_only_so_a_volatile_function_is_refused(served, engine):
    with engine.connect() as conn:
        loan = _open_loan(conn)
    client = served.test_client()
    refused = client.get(f"/api/rpc/renew_loan?loan_id={loan}", headers=_token(role="librarian"))
    assert refused.status_code == 405 and refused.json["code"] == "25006"


def test_functions_run_as_the_request_role_with_its_claims(served, isolate):
    isolate(served)
    client = served.test_client()
    anonymous = client.get("/api/rpc/whoami", headers={"User-Agent": "pgfront-test"})
    assert anonymous.json == {
        "role": "web_anon",
        "claims": None,
        "method": "GET",
        "path": "/rpc/whoami",
        "user_agent": "pgfront-test",
    }
    member = client.post("/api/rpc/whoami", headers=_token(member_id=5)).json
    assert member["role"] == "web_user" and member["claims"]["member_id"] == 5
    assert member["method"] == "POST"


def test_execute_is_granted_in_sql(served, isolate):
    isolate(served)
    client = served.test_client()
    anonymous = client.get("/api/rpc/member_stats")
    assert anonymous.status_code == 401 and anonymous.json["code"] == "42501"
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    member = client.get("/api/rpc/member_stats", headers=_token(member_id=5))
    assert member.status_code == 403
    librarian = client.get(
        "/api/rpc/member_stats?open_loans=gt.0&limit=2", headers=_token(role="librarian")
    )
    assert librarian.status_code == 200 and len(librarian.json) == 2
    assert all(row["open_loans"] > 0 for row in librarian.json)
    assert client.get("/api/rpc/search_books?q=archive&limit=1").status_code == 200


# -- a database of odd functions ----------------------------------------------------------------

ODD_FUNCTIONS = r'''
CREATE TABLE points (id int PRIMARY KEY, x int, y int, secret text);
INSERT INTO points VALUES (1, 10, 5, 's1'), (2, 3, 4, 's2');
CREATE TYPE point_2d AS (x int, y int);
CREATE FUNCTION same_args(arg int) RETURNS text LANGUAGE sql AS $$ SELECT 'int' $$;
CREATE FUNCTION same_args(arg text) RETURNS text LANGUAGE sql AS $$ SELECT 'text' $$;
CREATE FUNCTION "Odd ""name"""("Arg one" int) RETURNS int LANGUAGE sql IMMUTABLE
    AS $$ SELECT $1 + 1 $$;
CREATE FUNCTION echo(json) RETURNS json LANGUAGE sql IMMUTABLE AS $$ SELECT $1 $$;
CREATE FUNCTION keep(doc jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$ SELECT doc $$;
CREATE FUNCTION ret_point() RETURNS point_2d LANGUAGE sql AS $$ SELECT ROW(10, 5)::point_2d $$;
CREATE FUNCTION out_params(num int, OUT plus_one int, OUT twice int) LANGUAGE sql
    AS $$ SELECT num + 1, num * 2 $$;
CREATE FUNCTION integers() RETURNS SETOF int LANGUAGE sql AS $$ VALUES (1), (2), (3) $$;
CREATE FUNCTION all_points() RETURNS SETOF points LANGUAGE sql STABLE
    AS $$ SELECT * FROM points ORDER BY id $$;
CREATE FUNCTION secret_fn() RETURNS int LANGUAGE sql AS $$ SELECT 42 $$;
CREATE FUNCTION payment() RETURNS void LANGUAGE plpgsql AS $$
BEGIN RAISE SQLSTATE 'PT402' USING MESSAGE = 'Payment Required', DETAIL = 'Quota exceeded'; END $$;
CREATE FUNCTION broken_custom() RETURNS void LANGUAGE plpgsql AS $$
BEGIN RAISE SQLSTATE 'PGRST' USING MESSAGE = 'not json', DETAIL = '{}'; END $$;
'''


@pytest.fixture(scope="module")
def odd(pg_server, make_app, tmp_path_factory):
    """An app on a database of odd functions; HIDDEN names one function and one column."""
    url = pg_server.create_database("pgfront_rpc")
    sql_dir = tmp_path_factory.mktemp("rpc_sql")
    (sql_dir / "001_functions.sql").write_text(ODD_FUNCTIONS)
    engine = sa.create_engine(url)
    apply_sql_dir(engine, sql_dir)
    engine.dispose()
    app = make_app(
        keep=True,
        DATABASE_URL=url.render_as_string(hide_password=False),
        DB_SCHEMAS="public",
        HIDDEN="public.secret_fn,public.points.secret",
    )
    return app, url


def test_same_argument_names_are_ambiguous(odd):
    client = odd[0].test_client()
    ambiguous = client.get("/api/rpc/same_args?arg=1")
    assert ambiguous.status_code == 300
    assert ambiguous.json["code"] == "PGRST203"
    assert ambiguous.json["message"] == (
        "Could not choose the best candidate function between: "
        "public.same_args(arg => integer), public.same_args(arg => text)"
    )


def test_quoted_names_are_called_as_written(odd):
    client = odd[0].test_client()
    assert client.get('/api/rpc/Odd "name"', query_string={"Arg one": "41"}).json == 42


def test_single_json_argument_and_single_object(odd):
    client = odd[0].test_client()
    body = {"a": [1, 2], "b": {"c": None}}
    assert client.post("/api/rpc/echo", json=body).json == body
    assert client.post("/api/rpc/keep", json={"doc": body}).json == body
    whole = client.post("/api/rpc/keep", json=body, headers={"Prefer": "params=single-object"})
    assert whole.json == body
    none = client.post("/api/rpc/integers", json={}, headers={"Prefer": "params=single-object"})
    assert none.status_code == 404 and "single json/jsonb parameter" in none.json["details"]


def test_composite_out_parameters_and_sets_of_scalars(odd):
    client = odd[0].test_client()
    assert client.get("/api/rpc/ret_point").json == {"x": 10, "y": 5}
    assert client.get("/api/rpc/out_params?num=5").json == {"plus_one": 6, "twice": 10}
    assert client.get("/api/rpc/integers").json == [1, 2, 3]
    assert client.get("/api/rpc/integers?limit=2").json == [1, 2]


def test_hidden_functions_and_columns_stay_hidden(odd):
    client = odd[0].test_client()
    hidden = client.get("/api/rpc/secret_fn")
    assert hidden.status_code == 404 and hidden.json["code"] == "PGRST202"
    assert hidden.json["hint"] is None or "secret" not in hidden.json["hint"]
    rows = client.get("/api/rpc/all_points").json
    assert rows == [{"id": 1, "x": 10, "y": 5}, {"id": 2, "x": 3, "y": 4}]
    refused = client.get("/api/rpc/all_points?select=secret")
    assert refused.status_code == 400
    spec = client.get("/api/").json
    assert "/rpc/secret_fn" not in spec["paths"]


def test_raise_with_a_status_code_and_a_broken_custom_error(odd):
    client = odd[0].test_client()
    paid = client.post("/api/rpc/payment")
    assert paid.status_code == 402
    assert paid.json == {
        "code": "PT402",
        "message": "Payment Required",
        "details": "Quota exceeded",
        "hint": None,
    }
    broken = client.post("/api/rpc/broken_custom")
    assert broken.status_code == 500 and broken.json["code"] == "PGRST121"


def test_reload_picks_up_new_and_changed_functions(odd):
    app, url = odd
    client = app.test_client()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("CREATE FUNCTION added(n int) RETURNS int LANGUAGE sql AS $$ SELECT n $$")
            )
        assert client.get("/api/rpc/added?n=3").status_code == 404
        app.extensions["pgfront"].reloader.reload_now("test")
        assert client.get("/api/rpc/added?n=3").json == 3
        with engine.begin() as conn:
            conn.execute(sa.text("DROP FUNCTION added(int)"))
            conn.execute(
                sa.text(
                    "CREATE FUNCTION added(m int) RETURNS int LANGUAGE sql AS $$ SELECT m * 2 $$"
                )
            )
        app.extensions["pgfront"].reloader.reload_now("test")
        assert client.get("/api/rpc/added?m=3").json == 6
        assert client.get("/api/rpc/added?n=3").status_code == 404
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP FUNCTION IF EXISTS added(int)"))
        engine.dispose()


# -- OpenAPI ------------------------------------------------------------------------------------


def test_functions_are_described_in_openapi(client):
    paths = client.get("/api/").json["paths"]
    search = paths["/rpc/search_books"]
    assert search["get"]["parameters"][0]["name"] == "q"
    assert "search_books(q text) RETURNS SETOF books" in search["post"]["description"]
    assert search["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "type": "object",
        "properties": {"q": {"type": ["string", "null"], "description": "text"}},
        "required": ["q"],
    }
    rows = search["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert rows == {"type": "array", "items": {"$ref": "#/components/schemas/books"}}
    assert "get" not in paths["/rpc/renew_loan"]  # VOLATILE: POST only
    assert "204" in paths["/rpc/return_copy"]["post"]["responses"]
    counts = paths["/rpc/book_count"]["post"]["requestBody"]["content"]["application/json"]
    assert len(counts["schema"]["oneOf"]) == 2  # the two overloads


# -- the functions page -------------------------------------------------------------------------


def test_the_functions_page_lists_signatures_with_a_form_for_get(client):
    page = client.get("/schema/public/functions", headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "public.search_books(q text) RETURNS SETOF books" in html
    assert 'action="/schema/public/functions/search_books/call"' in html and 'name="q"' in html
    assert "Books whose title matches every word of q" in html
    assert "functions/renew_loan/call" not in html  # VOLATILE: POST only
    assert "Called by POST: <code>/api/rpc/renew_loan</code>" in html
    twin = client.get("/schema/public/functions?_format=json").json
    names = [fn["name"] for fn in twin["functions"]]
    assert names.count("book_count") == 2 and "whoami" in names
    assert 'href="/schema/public/functions"' in client.get(
        "/schema/public", headers={"Accept": "text/html"}
    ).get_data(as_text=True)


def test_the_form_leaves_empty_fields_to_their_defaults(client):
    sent = client.get("/schema/public/functions/book_count/call?of_genre=")
    assert sent.status_code == 303 and sent.headers["Location"] == "/api/rpc/book_count"
    poetry = client.get("/schema/public/functions/book_count/call?of_genre=poetry")
    assert poetry.headers["Location"] == "/api/rpc/book_count?of_genre=poetry"
    assert client.get(poetry.headers["Location"]).json > 0


def test_the_functions_page_leaves_hidden_functions_out(odd):
    twin = odd[0].test_client().get("/schema/public/functions?_format=json").json
    names = {fn["name"] for fn in twin["functions"]}
    assert "secret_fn" not in names and "echo" in names
    assert odd[0].test_client().get("/schema/nope/functions").status_code == 404
