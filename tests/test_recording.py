"""Query recording (RECORD_QUERIES) and the slow-query log (SLOW_QUERY_MS)."""

import logging

import pytest
import sqlalchemy as sa
from flask import Blueprint

from db.session import Session
from webapp.recording import get_recorded_queries

SECRET = "s3cret-parameter-value"


def _probes():
    bp = Blueprint("recording_probe", __name__)

    @bp.get("/probe/two-statements")
    def two_statements():
        Session.execute(sa.text("SELECT 1 AS one"))
        Session.execute(sa.text("SELECT :word AS word"), {"word": SECRET})
        return [
            {
                "statement": query.statement,
                "parameters": query.parameters,
                "duration": query.duration,
                "location": query.location,
                "error": query.error,
            }
            for query in get_recorded_queries()
        ]

    @bp.get("/probe/sleep")
    def sleep():
        Session.execute(sa.text("SELECT pg_sleep(0.3)"))
        Session.execute(sa.text("SELECT 'quick'"))
        return {"recorded": len(get_recorded_queries())}

    @bp.get("/probe/timeout")
    def timeout():
        Session.execute(sa.text("SET LOCAL statement_timeout = 200"))
        Session.execute(sa.text("SELECT pg_sleep(2)"))
        return {}

    return bp


@pytest.fixture(scope="module")
def make_probe_app(make_app):
    """Apps with the probe views, built once per settings."""
    built = {}

    def build(**config):
        key = tuple(sorted(config.items()))
        if key not in built:
            built[key] = make_app(keep=True, **config)
            built[key].register_blueprint(_probes())
        return built[key]

    return build


def test_off_by_default(make_probe_app):
    client = make_probe_app().test_client()
    assert client.get("/probe/two-statements").json == []


def test_each_request_records_its_statements(make_probe_app):
    client = make_probe_app(RECORD_QUERIES="true").test_client()
    recorded = client.get("/probe/two-statements").json
    ours = [
        query
        for query in recorded
        if "AS one" in query["statement"] or "word" in query["statement"]
    ]
    assert [query["statement"] for query in ours] == ["SELECT 1 AS one", "SELECT %(word)s AS word"]
    assert ours[1]["parameters"] == {"word": SECRET}
    assert all(query["duration"] > 0 and query["error"] is None for query in ours)
    assert all(query["location"].startswith(f"{__name__}:") for query in ours)
    assert ours[0]["location"].endswith("(two_statements)")
    # The next request starts with an empty record.
    assert len(client.get("/probe/two-statements").json) == len(recorded)


def test_recorded_statements_are_logged_at_debug_without_parameters(make_probe_app, caplog):
    client = make_probe_app(RECORD_QUERIES="true").test_client()
    with caplog.at_level(logging.DEBUG, "webapp.queries"):
        client.get("/probe/two-statements")
    lines = [record.getMessage() for record in caplog.records if record.name == "webapp.queries"]
    assert any("SELECT 1 AS one" in line and "(two_statements)" in line for line in lines)
    assert SECRET not in caplog.text


def test_slow_statements_are_logged_even_when_not_recording(make_probe_app, caplog):
    client = make_probe_app(SLOW_QUERY_MS="100").test_client()
    with caplog.at_level(logging.WARNING, "webapp.queries"):
        response = client.get("/probe/sleep", headers={"X-Request-Id": "slow-1"})
    assert response.json == {"recorded": 0}
    slow = [r.getMessage() for r in caplog.records if r.name == "webapp.queries"]
    assert len(slow) == 1
    assert "pg_sleep(0.3)" in slow[0] and "request slow-1" in slow[0]
    assert "quick" not in caplog.text


def test_a_statement_cancelled_by_a_timeout_is_logged_as_failed(make_probe_app, caplog):
    client = make_probe_app(SLOW_QUERY_MS="100", RECORD_QUERIES="true").test_client()
    with caplog.at_level(logging.WARNING, "webapp.queries"):
        assert client.get("/probe/timeout").status_code == 504
    (line,) = [r.getMessage() for r in caplog.records if r.name == "webapp.queries"]
    assert line.startswith("slow query failed (57014) after") and "pg_sleep(2)" in line


def test_outside_an_app_context_nothing_is_recorded(make_probe_app):
    app = make_probe_app(RECORD_QUERIES="true")
    with app.extensions["pgfront"].engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    assert get_recorded_queries() == []
