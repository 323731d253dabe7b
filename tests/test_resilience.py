"""The database goes away and comes back: 503s with Retry-After, then service without a restart."""

import threading

import pytest
import sqlalchemy as sa
from flask import Blueprint

from db.embedded import EmbeddedPostgres
from db.session import Session

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    """A private server these tests may stop and restart."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("resilience"), durable=False)
    server.start()
    server.ensure_database("shop")
    engine = sa.create_engine(server.url("shop"))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)"))
        conn.execute(
            sa.text("INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 50) i")
        )
    engine.dispose()
    yield server
    server.stop()


@pytest.fixture
def shop_app(own_server, make_app):
    app = make_app(
        DATABASE_URL=own_server.url("shop").render_as_string(hide_password=False),
        DB_SCHEMAS="public",
        THREADS="2",
        DB_CONNECT_TIMEOUT="2",
    )
    slow = Blueprint("slow", __name__)

    @slow.get("/api/slow")
    def run_slow():
        Session.execute(sa.text("SELECT pg_sleep(10)"))
        return {}

    app.register_blueprint(slow)
    return app


def test_database_stopped_then_back(own_server, shop_app):
    client = shop_app.test_client()
    assert client.get("/api/items?limit=1").status_code == 200
    own_server.stop()
    try:
        down = client.get("/api/items?limit=1")
        assert down.status_code == 503
        assert down.headers["Retry-After"] == "2"
        assert down.json["code"] in ("08006", "08001", "57P01")
        not_ready = client.get("/ready")
        assert not_ready.status_code == 503 and not_ready.json["status"] == "not ready"
    finally:
        own_server.start()  # same port
    assert [client.get("/api/items?limit=1").status_code for _ in range(3)] == [200] * 3
    assert client.get("/ready").json["status"] == "ready"
    assert shop_app.extensions["pgfront"].engine.pool.checkedout() == 0


def test_restart_during_a_request_fails_only_that_request(own_server, shop_app):
    client = shop_app.test_client()
    statuses = []
    restarted = threading.Event()

    def two_requests_on_one_thread():
        statuses.append(client.get("/api/slow").status_code)
        restarted.wait(30)  # the next request, once the server is back
        statuses.append(client.get("/api/items?limit=1").status_code)

    worker = threading.Thread(target=two_requests_on_one_thread)
    worker.start()
    engine = shop_app.extensions["pgfront"].engine
    probe = sa.create_engine(own_server.url("shop"))
    with probe.connect() as conn:  # wait until the slow query runs
        for _ in range(100):
            running = conn.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'")
            ).scalar()
            if running:
                break
            threading.Event().wait(0.05)
    probe.dispose()
    own_server.restart()
    restarted.set()
    worker.join(timeout=30)
    assert statuses == [503, 200]
    assert engine.pool.checkedout() == 0


def test_pool_timeout_is_a_503(own_server, make_app):
    app = make_app(
        DATABASE_URL=own_server.url("shop").render_as_string(hide_password=False),
        DB_SCHEMAS="public",
        THREADS="1",
        DB_MAX_OVERFLOW="0",
        DB_POOL_TIMEOUT="0.3",
    )
    engine = app.extensions["pgfront"].engine
    held = [engine.connect() for _ in range(engine.pool.size())]
    try:
        response = app.test_client().get("/api/items?limit=1")
    finally:
        for conn in held:
            conn.close()
    assert response.status_code == 503
    assert response.json["code"] == "PGRST003"
    assert response.headers["Retry-After"]
    assert app.test_client().get("/api/items?limit=1").status_code == 200
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert "pgfront_pool_timeouts_total 1" in metrics
