"""OPTIONS /api/<relation>, as PostgREST answers it (its OptionsSpec): an Allow header of the
methods the relation accepts, from what PostgreSQL says it can do (pg_relation_is_updatable);
PUT only with a primary key; 404 for a relation that is not served."""

from __future__ import annotations

import pytest

READS = "OPTIONS,GET,HEAD"


def _writes(app, *, primary_key: bool) -> str:
    """POST[,PUT],PATCH,DELETE: PUT only where it is routed and the relation has a key."""
    routed = {
        m for rule in app.url_map.iter_rules() if rule.rule == "/api/<name>" for m in rule.methods
    }
    put = ["PUT"] if primary_key and "PUT" in routed else []
    return ",".join(["POST", *put, "PATCH", "DELETE"])


def test_a_table_allows_reads_and_writes(app, client):
    response = client.options("/api/books")
    assert response.status_code == 200
    assert response.headers["Allow"] == f"{READS},{_writes(app, primary_key=True)}"
    assert response.get_data() == b""


@pytest.mark.parametrize(
    ("path", "profile"),
    [
        ("/api/overdue_loans", None),  # a view over a join: not auto-updatable
        ("/api/book_popularity", None),  # a materialized view
        ("/api/monthly_loans", "reporting"),  # a view with GROUP BY
    ],
)
def test_a_relation_postgresql_cannot_change_allows_reads_only(client, path, profile):
    headers = {"Content-Profile": profile} if profile else {}
    response = client.options(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["Allow"] == READS


def test_an_auto_updatable_view_without_a_key_allows_writes_but_not_put(client):
    response = client.options("/api/shelved_copies")
    assert response.headers["Allow"] == f"{READS},POST,PATCH,DELETE"


def test_a_partitioned_table_allows_writes(app, client):
    response = client.options("/api/loan_events", headers={"Content-Profile": "reporting"})
    assert response.status_code == 200
    assert response.headers["Allow"].startswith(f"{READS},POST")


def test_an_unknown_relation_is_404(client):
    response = client.options("/api/nothing_here")
    assert response.status_code == 404
    assert response.json["code"] == "PGRST205"


def test_a_schema_that_is_not_served_is_406(client):
    response = client.options("/api/books", headers={"Content-Profile": "pg_catalog"})
    assert response.status_code == 406
    assert response.json["code"] == "PGRST106"


def test_a_hidden_relation_answers_as_an_unknown_one(make_app):
    client = make_app(HIDDEN="public.wishlist").test_client()
    hidden, unknown = client.options("/api/wishlist"), client.options("/api/wishlisx")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json["code"] == unknown.json["code"] == "PGRST205"


def test_read_only_server_allows_reads_only(make_app):
    client = make_app(READ_ONLY="true").test_client()
    assert client.options("/api/books").headers["Allow"] == READS
