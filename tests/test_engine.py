"""The engine: created once, pool sized to the threads, timeouts and names on every connection."""

import sqlalchemy as sa
from flask import Blueprint

from db.engine import normalize_url
from db.session import Session


def test_pool_covers_the_waitress_threads(make_app):
    app = make_app(THREADS="6")
    engine = app.extensions["pgfront"].engine
    assert engine.pool.size() >= 6
    assert engine.pool._pre_ping
    assert engine.pool.timeout() <= 10


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
