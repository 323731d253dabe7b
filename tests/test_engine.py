"""The engine: created once, pool sized to the threads, timeouts and names on every connection."""

import time

import sqlalchemy as sa
from flask import Blueprint

from db.engine import normalize_url
from db.session import Session


def test_pool_covers_the_waitress_threads(make_app):
    app = make_app(THREADS="6")
    engine = app.extensions["pgfront"].engine
    assert engine.pool.size() >= 6
    assert engine.pool.timeout() <= 10


def test_killed_idle_connections_are_replaced_unnoticed(make_app, engine):
    app = make_app(DB_APPLICATION_NAME="pgfront-kill-test", THREADS="2")
    client = app.test_client()
    assert client.get("/api/branches?limit=1").status_code == 200  # a pooled connection exists
    with engine.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'pgfront-kill-test'"
            )
        ).scalar()
        assert killed >= 1
        # Termination is asynchronous: wait until the server has really let them go.
        for _ in range(100):
            left = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = 'pgfront-kill-test'"
                )
            ).scalar()
            if not left:
                break
            time.sleep(0.02)
    assert [client.get("/api/branches?limit=1").status_code for _ in range(5)] == [200] * 5


def test_connections_carry_name_and_timeouts(make_app):
    app = make_app(
        DB_APPLICATION_NAME="pgfront-engine-test",
        DB_STATEMENT_TIMEOUT="1234",
        DB_IDLE_TX_TIMEOUT="5678",
    )
    with app.extensions["pgfront"].engine.connect() as conn:
        settings = conn.execute(
            sa.text(
                "SELECT current_setting('application_name'), current_setting('statement_timeout'),"
                " current_setting('idle_in_transaction_session_timeout')"
            )
        ).one()
    assert tuple(settings) == ("pgfront-engine-test", "1234ms", "5678ms")


def test_runaway_query_is_cancelled_with_504_and_connection_stays_usable(make_app):
    app = make_app(DB_STATEMENT_TIMEOUT="200", THREADS="1")
    slow = Blueprint("slow", __name__)

    @slow.get("/api/slow")
    def run_slow():
        Session.execute(sa.text("SELECT pg_sleep(5)"))
        return {}

    app.register_blueprint(slow)
    client = app.test_client()
    response = client.get("/api/slow")
    assert response.status_code == 504
    assert response.json["code"] == "57014"
    assert client.get("/api/branches?limit=1").status_code == 200
    assert app.extensions["pgfront"].engine.pool.checkedout() == 0


def test_libpq_urls_are_accepted():
    assert normalize_url("postgres://u@h/d").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql://u@h/d").drivername == "postgresql+psycopg"
