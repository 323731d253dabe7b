"""Hostile input everywhere a request carries text: a 4xx with a clear message, nothing changed.

No request may give a 5xx or a traceback, whatever it holds: injection attempts, numbers
of thousands of digits (Python's int() refuses more than 4,300), lone surrogates (text no
UTF-8 encoder accepts, sent raw, percent-encoded or as a JSON escape), NUL, and JSON
nested hundreds or a hundred thousand levels deep.
"""

import base64
import json
from urllib.parse import quote

import pytest
import sqlalchemy as sa


def _nested(opening: str, closing: str, depth: int, inner: str = "") -> str:
    return opening * depth + inner + closing * depth


DEEP_ARRAY = _nested("[", "]", 900)
DEEP_OBJECT = _nested('{"a":', "}", 900, "1")
DEEPEST_ARRAY = _nested("[", "]", 100_000)
DEEPEST_OBJECT = _nested('{"a":', "}", 100_000, "1")

INJECTIONS = [
    "'; DROP TABLE books; --",
    '" OR 1=1 --',
    "1; DELETE FROM branches",
    'books"; DROP TABLE branches; --',
    "pg_sleep(10)",
    "$$; SELECT 1; $$",
    "\\x27",
    "%27%20OR%201=1",
    "ü\u202e\u0000",
    "a" * 5000,
    "1" * 4301,  # one digit past what Python's int() converts
    "-" + "9" * 5000,
    "1e" + "9" * 4301,
    "\ud800",  # a lone surrogate: no UTF-8 encoder takes it
    "a\udfffb",
    "\u0000",
    DEEP_ARRAY,
    DEEP_OBJECT,
    DEEPEST_ARRAY,
]
SOME_UUID = "5fb51625-451a-10ea-1a3e-0560be09a370"


def _state(db_connection):
    return db_connection.execute(
        sa.text("SELECT (SELECT count(*) FROM branches), (SELECT count(*) FROM books)")
    ).one()


def _cursor(*parts) -> str:
    """A well-formed cursor (base64url of JSON) holding these parts, as pipeline/cursors.py writes them."""
    raw = json.dumps(list(parts)).encode()  # a lone surrogate becomes the escape \ud800
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _requests(text: str) -> dict:
    """Every place a request carries text, with text in it: method, path, test-client kwargs."""
    # Lone surrogates go out percent-encoded as the bytes a raw one would be (%ED%A0%80).
    q = quote(text, safe="", errors="surrogatepass")
    title_cursor = quote(_cursor("title.asc,id.asc", [text, SOME_UUID]))
    return {
        "path": ("get", f"/api/{q}", {}),
        "filter-value": ("get", f"/api/books?title=eq.{q}", {}),
        "filter-number": ("get", f"/api/books?pages=lt.{q}", {}),
        "filter-json": ("get", f"/api/books?details=eq.{q}", {}),
        "filter-in": ("get", f"/api/books?id=in.({q})", {}),
        "filter-column": ("get", f"/api/books?{q}=eq.1", {}),
        "raw-bytes": ("get", "/api/books", _raw_query(b"title=eq." + _raw(text))),
        "page-raw-bytes": ("get", "/browse/public/books", _raw_query(b"title=eq." + _raw(text))),
        "select": ("get", f"/api/books?select={q}", {}),
        "order": ("get", f"/api/books?order={q}", {}),
        "limit": ("get", f"/api/books?limit={q}", {}),
        "offset": ("get", f"/api/books?offset={q}", {}),
        "range": ("get", "/api/books", {"headers": {"Range": f"0-{text}"}}),
        "range-start": ("get", "/api/books", {"headers": {"Range": f"{text}-"}}),
        "profile": (
            "get",
            "/api/books",
            {"headers": {"Accept-Profile": text.replace("\u0000", "")[:200]}},
        ),
        "embed": ("get", f"/api/books?select=title,{q}(*)", {}),
        "tree": ("get", f"/api/books?or=(title.eq.{q},id.eq.{q})", {}),
        "cursor": ("get", f"/api/books?cursor={q}", {}),
        "cursor-value": ("get", f"/api/books?order=title&cursor={title_cursor}", {}),
        "page-filter": ("get", f"/browse/public/books?title=eq.{q}", {}),
        "page-cursor": ("get", f"/browse/public/books?order=title&_after={title_cursor}", {}),
        "page-before": ("get", f"/browse/public/books?order=title&_before={title_cursor}", {}),
        "page-limit": ("get", f"/browse/public/books?limit={q}", {}),
        "row-key": ("get", f"/browse/public/books/row?id={q}", {}),
        "export-filter": ("get", f"/browse/public/books/export.csv?title=eq.{q}", {}),
        "team-page": ("get", f"/team/branches/1?per_page={q}", {}),
        "on_conflict": (
            "post",
            f"/api/branches?on_conflict={q}",
            {
                "json": {"name": "x", "city": "y"},
                "headers": {"Prefer": "resolution=merge-duplicates"},
            },
        ),
        "body-key": ("post", "/api/branches", {"json": {text: "x"}}),
        "body-value": ("patch", f"/api/branches?name=eq.{q}", {"json": {"city": text}}),
        "body-json": ("patch", f"/api/books?id=eq.{SOME_UUID}", {"json": {"details": [text]}}),
    }


def _raw(text: str) -> bytes:
    """text as the raw bytes a client would put in a URL (a lone surrogate as ED A0 80)."""
    return text.encode("utf-8", errors="surrogatepass")


def _raw_query(query: bytes) -> dict:
    """Test-client kwargs sending query unescaped, as bytes on the wire (WSGI keeps them Latin-1)."""
    return {"environ_overrides": {"QUERY_STRING": query.decode("latin-1")}}


PLACES = list(_requests(""))


@pytest.mark.parametrize("text", INJECTIONS, ids=lambda text: repr(text[:12]) + f"x{len(text)}")
@pytest.mark.parametrize("where", PLACES)
def test_injection_attempts_are_client_errors(client, db_connection, text, where):
    before = _state(db_connection)
    method, path, kwargs = _requests(text)[where]
    try:
        response = getattr(client, method)(path, **kwargs)
    except ValueError:  # the test client itself refuses some header values
        return
    body = response.get_data(as_text=True)
    assert response.status_code < 500, (where, text[:40], body[:300])
    assert "Traceback" not in body
    if response.status_code >= 400 and response.mimetype == "application/json":
        assert response.json["message"]
    assert _state(db_connection) == before


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not utf-8",
        b"{" * 50000,
        b'{"name": ' + b'"x' * 10,
        b"null",
        b'"just a string"',
        b"[[[]]]",
        b'{"name": "\xed\xa0\x80", "city": "x"}',  # a surrogate's bytes: not UTF-8
        DEEPEST_ARRAY.encode(),
        DEEPEST_OBJECT.encode(),
    ],
)
def test_malformed_bodies(client, db_connection, body):
    before = _state(db_connection)
    response = client.post("/api/branches", data=body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.json["code"] == "PGRST102"
    assert _state(db_connection) == before


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "\\ud800", "city": "x"}',
        '{"name": "x", "city": "a\\udfffb"}',
        '{"\\ud800": "x"}',
        '[{"name": "x", "city": "y"}, {"name": "\\ud83d", "city": "y"}]',
    ],
)
def test_a_lone_surrogate_in_a_body_is_an_invalid_body(client, db_connection, body):
    before = _state(db_connection)
    response = client.post("/api/branches", data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.json["code"] == "PGRST102"
    assert "surrogate" in response.json["message"]
    assert _state(db_connection) == before


def test_a_surrogate_pair_is_a_character_not_an_error(client):
    """Clients that escape everything (Python's json.dumps) send emoji as two escapes."""
    response = client.post(
        "/api/branches",
        data='{"name": "Pair \\ud83d\\udc69", "city": "x"}',
        content_type="application/json",
        headers={"Prefer": "return=representation"},
    )
    assert response.status_code == 201
    assert response.json[0]["name"] == "Pair 👩"


@pytest.mark.parametrize("value", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize("method", ["post", "patch"])
def test_jsonb_nested_900_deep_is_an_invalid_body(client, db_connection, value, method):
    before = _state(db_connection)
    body = '{"details": ' + value + "}"
    path = "/api/books" if method == "post" else f"/api/books?id=eq.{SOME_UUID}"
    response = getattr(client, method)(path, data=body, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.json["code"] == "PGRST102"
    assert "details" in response.json["message"] and "levels" in response.json["message"]
    assert _state(db_connection) == before


def test_an_array_deeper_than_postgresql_takes_is_a_400(client):
    body = '{"tags": ' + DEEP_ARRAY + "}"
    response = client.patch(
        f"/api/books?id=eq.{SOME_UUID}", data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "tags" in response.json["message"] and "dimensions" in response.json["message"]


def test_jsonb_as_deep_as_the_limit_is_written_and_read_back(client, db_connection):
    book = db_connection.execute(sa.text("SELECT id FROM books ORDER BY id LIMIT 1")).scalar()
    deep = json.loads(_nested("[", "]", 200, "1"))
    written = client.patch(f"/api/books?id=eq.{book}", json={"details": deep})
    assert written.status_code == 204, written.get_data(as_text=True)[:300]
    read = client.get(f"/api/books?id=eq.{book}&select=id,details")  # 202 levels with the row
    assert read.status_code == 200 and read.json[0]["details"] == deep


def test_stored_jsonb_deeper_than_the_encoder_goes_is_still_served(client, db_connection):
    """A DBA may store what the API refuses to write: reading it back must not fail."""
    book = db_connection.execute(sa.text("SELECT id FROM books ORDER BY id LIMIT 1")).scalar()
    stored = _nested("[", "]", 600, '{"n": 1.50, "big": 123456789012345678901234567890}')
    db_connection.execute(
        sa.text("UPDATE books SET details = CAST(:v AS jsonb) WHERE id = :id"),
        {"v": stored, "id": book},
    )
    for path in (f"/api/books?id=eq.{book}&select=details", f"/browse/public/books?id=eq.{book}"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    body = client.get(f"/api/books?id=eq.{book}&select=details").get_data(as_text=True)
    assert body == '[{"details":' + stored.replace(": ", ":").replace(", ", ",") + "}]"
    row = client.get(f"/browse/public/books/row?id={book}")
    assert row.status_code == 200


@pytest.mark.parametrize("value", [DEEPEST_ARRAY, DEEPEST_OBJECT], ids=["array", "object"])
def test_json_too_deep_for_postgresql_in_a_filter_is_a_400(client, value):
    response = client.get(f"/api/books?details=eq.{quote(value)}")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.json["code"] == "54001"
    assert "max_stack_depth" not in (response.json["hint"] or "")  # the DBA's business
    assert "nests too deeply" in response.json["hint"]


@pytest.mark.parametrize(
    "value",
    ["1" * 4301, "0-" + "1" * 4301, "9" * 19 + "-", "٣-٤"],
    ids=["huge-start", "huge-end", "past-bigint", "other-digits"],
)
def test_a_range_with_numbers_no_row_has_is_a_416(client, value):
    response = client.get("/api/books", headers={"Range": value})
    assert response.status_code == 416
    assert response.json["code"] == "PGRST103"


def test_a_huge_page_size_on_a_team_page_is_a_400(client):
    response = client.get(f"/team/branches/1?per_page={'9' * 4301}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "per_page" in response.get_data(as_text=True)
    assert client.get(f"/team/branches/{'9' * 4301}").status_code == 404


@pytest.mark.parametrize("path", ["/", "/api/books", "/browse/public/books", "/team/branches/1"])
def test_raw_bytes_that_are_not_utf8_read_as_their_escapes(client, path):
    raw = client.get(path, **_raw_query(b"title=eq.\xed\xa0\x80&q=\xff"))
    escaped = client.get(path + "?title=eq.%ED%A0%80&q=%FF")
    assert raw.status_code == escaped.status_code < 500
    assert raw.get_data() == escaped.get_data()


def _many(count, template):
    return ",".join(template.format(i=i) for i in range(count))


# Requests that ask the server for too much work: refused, with the setting that bounds them.
OVERSIZED = [
    (f"/api/authors?select=id,{_many(40, 'b{i}:books(*)')}", 400, "MAX_EMBEDS"),
    ("/api/books?select=id," + "authors(books(" * 500 + "*" + "))" * 500, 400, "MAX_EMBED_DEPTH"),
    ("/api/books?select=id," + "s:books!sequel_of(" * 1000 + "id" + ")" * 1000, 400, "DEPTH"),
    (f"/api/books?select=id,{_many(1000, 'a{i}:authors(*)')}", 400, "MAX_EMBEDS"),
    ("/api/books?select=" + "(" * 5000 + ")" * 5000, 400, ""),
    ("/api/books?select=" + ",".join(["title"] * 33000), 400, "1664"),
    (f"/api/authors?select=id,{_many(10, 'b{i}:books(*)')}", 413, "MAX_EMBED_ROWS"),
    ("/api/authors?select=*,books(*,copies(*,loans(*)))", 413, "MAX_EMBED_ROWS"),
]


@pytest.mark.parametrize(("path", "status", "names"), OVERSIZED)
def test_oversized_requests_are_refused_naming_their_limit(
    client, db_connection, path, status, names
):
    before = _state(db_connection)
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert names in response.json["message"]
    assert _state(db_connection) == before


# Requests that try to reach what HIDDEN hides: a hidden table's partitions, a hidden
# column by every spelling, embeds through keys into hidden things, and errors that would
# dump a hidden value or name a hidden table. Each is a 4xx that shows nothing hidden.
_EVENT = {"loan_id": 1, "kind": "reminded", "occurred_at": "2024-05-05T10:00:00Z"}
_MEMBER = {"full_name": "N. N.", "joined_at": "2024-01-01T00:00:00Z", "home_branch_id": 1}
HIDDEN_PROBES = [
    ("get", "/api/loan_events_2024", {"headers": {"Accept-Profile": "reporting"}}),
    ("get", "/api/loan_events_other?select=payload", {"headers": {"Accept-Profile": "reporting"}}),
    (
        "post",
        "/api/loan_events_2024",
        {"json": _EVENT, "headers": {"Content-Profile": "reporting"}},
    ),
    ("delete", "/api/loan_events_2025?id=gt.0", {"headers": {"Content-Profile": "reporting"}}),
    ("get", "/api/members?select=email", {}),
    ("get", "/api/members?select=e:email", {}),
    ("get", "/api/members?select=email::text", {}),
    ("get", "/api/members?select=id,email->>x", {}),
    ("get", "/api/members?email=like.*a*", {}),
    ("get", "/api/members?or=(id.eq.1,email.like.*a*)", {}),
    ("get", "/api/members?order=email", {}),
    ("get", "/api/loans?select=id,members(email)", {}),
    ("get", "/api/members?select=id,members!referred_by(email)", {}),
    ("get", "/api/loans?select=id,loan_events!loan_events_loan_id_fkey(*)", {}),
    ("post", "/api/members?columns=email", {"json": {**_MEMBER, "email": "x@y.z"}}),
    (
        "post",
        "/api/members?on_conflict=email",
        {"json": _MEMBER, "headers": {"Prefer": "resolution=merge-duplicates"}},
    ),
    ("post", "/api/members", {"json": _MEMBER}),  # email is NOT NULL: the error must not say so
    ("patch", "/api/members?id=eq.1", {"json": {"max_loans": 99}}),  # the failing row has email
    ("delete", "/api/loans?id=eq.1", {}),  # referenced from the hidden loan_events
    ("get", "/browse/public/members?select=email", {}),
    ("get", "/browse/public/members?order=email", {}),
    ("get", "/browse/public/members/row/email?id=1", {}),
    ("get", "/browse/public/members/export.csv?select=email", {}),
    ("get", "/browse/reporting/loan_events_2024/structure", {}),
]


@pytest.fixture(scope="module")
def hiding_app(make_app):
    return make_app(keep=True, HIDDEN="reporting.loan_events,public.members.email")


@pytest.mark.parametrize(("method", "path", "kwargs"), HIDDEN_PROBES)
def test_probes_of_hidden_things_show_nothing_hidden(hiding_app, isolate, method, path, kwargs):
    connection = isolate(hiding_app)
    counted = sa.text(
        "SELECT (SELECT count(*) FROM members), (SELECT count(*) FROM reporting.loan_events),"
        " (SELECT count(*) FROM loans), (SELECT sum(max_loans) FROM members)"
    )
    before = connection.execute(counted).one()
    response = getattr(hiding_app.test_client(), method)(path, **kwargs)
    body = response.get_data(as_text=True)
    assert 400 <= response.status_code < 500, (path, body[:300])
    assert "@mail.example.com" not in body
    asked = path + str(kwargs)
    for name in ("email", "loan_events"):
        assert name in asked or name not in body, (path, body[:300])
    assert connection.execute(counted).one() == before
