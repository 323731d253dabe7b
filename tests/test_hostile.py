"""Hostile input everywhere a request carries text: a 4xx with a clear message, nothing changed."""

from urllib.parse import quote

import pytest
import sqlalchemy as sa

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
]


def _state(db_connection):
    return db_connection.execute(
        sa.text("SELECT (SELECT count(*) FROM branches), (SELECT count(*) FROM books)")
    ).one()


@pytest.mark.parametrize("text", INJECTIONS)
@pytest.mark.parametrize(
    "where",
    [
        "path",
        "filter-value",
        "filter-column",
        "select",
        "order",
        "profile",
        "embed",
        "tree",
        "cursor",
        "on_conflict",
        "body-key",
        "body-value",
    ],
)
def test_injection_attempts_are_client_errors(client, db_connection, text, where):
    before = _state(db_connection)
    q = quote(text, safe="")
    requests = {
        "path": ("get", f"/api/{q}", {}),
        "filter-value": ("get", f"/api/books?title=eq.{q}", {}),
        "filter-column": ("get", f"/api/books?{q}=eq.1", {}),
        "select": ("get", f"/api/books?select={q}", {}),
        "order": ("get", f"/api/books?order={q}", {}),
        "profile": (
            "get",
            "/api/books",
            {"headers": {"Accept-Profile": text.replace("\u0000", "")[:200]}},
        ),
        "embed": ("get", f"/api/books?select=title,{q}(*)", {}),
        "tree": ("get", f"/api/books?or=(title.eq.{q},id.eq.{q})", {}),
        "cursor": ("get", f"/api/books?cursor={q}", {}),
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
    }
    method, path, kwargs = requests[where]
    try:
        response = getattr(client, method)(path, **kwargs)
    except ValueError:  # the test client itself refuses some header values
        return
    assert response.status_code < 500, (where, text, response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
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
    ],
)
def test_malformed_bodies(client, db_connection, body):
    before = _state(db_connection)
    response = client.post("/api/branches", data=body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.json["code"] == "PGRST102"
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
