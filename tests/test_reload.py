"""Schema reload without restart: NOTIFY, DDL, the admin endpoint, bursts, failures, lost LISTEN."""

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.catalog import CatalogHolder, reflect_catalog
from db.engine import EngineOptions, make_engine
from db.reload import Reloader
from db.sqlfiles import apply_sql_dir

pytestmark = pytest.mark.slow


@pytest.fixture
def fresh(pg_server, make_app, tmp_path, eventually):
    """An app on a database of its own (with the reload event trigger), and a way to run SQL."""
    url = pg_server.create_database("pgfront_reload")
    engine = sa.create_engine(url)
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "001_t.sql").write_text("CREATE TABLE first (id int PRIMARY KEY);")
    trigger = Path(__file__).resolve().parent.parent / "sql" / "005_reload_on_ddl.sql"
    (sql_dir / "005_reload_on_ddl.sql").write_text(trigger.read_text())
    apply_sql_dir(engine, sql_dir)
    app = make_app(
        DATABASE_URL=url.render_as_string(hide_password=False),
        DB_SCHEMAS="public",
        ADMIN_TOKEN="s3cret-admin-token-for-tests",
    )
    state = app.extensions["pgfront"]
    assert eventually(lambda: state.reloader.listening)

    def run(statement):
        with engine.begin() as conn:
            conn.execute(sa.text(statement))

    yield app, state, run
    engine.dispose()


def test_ddl_reloads_through_the_event_trigger(fresh, eventually):
    app, state, run = fresh
    client = app.test_client()
    assert client.get("/api/second").status_code == 404
    run("CREATE TABLE second (id int PRIMARY KEY, label text)")
    assert eventually(lambda: client.get("/api/second").status_code == 200)
    assert state.reloader.last.ok


def test_notify_burst_gives_one_reload(fresh, eventually):
    app, state, run = fresh
    before = state.reloader.count
    for _ in range(20):
        run("NOTIFY pgfront, 'reload schema'")
    assert eventually(lambda: state.reloader.count > before)
    time.sleep(1.5)  # longer than the debounce: no second reload follows
    assert state.reloader.count == before + 1
    run("NOTIFY pgfront, 'something else'")
    time.sleep(1.0)
    assert state.reloader.count == before + 1


def test_old_snapshot_stays_usable_during_a_swap(fresh, eventually):
    app, state, run = fresh
    old = state.catalogs.current
    run("CREATE TABLE third (id int PRIMARY KEY)")
    assert eventually(lambda: state.catalogs.current is not old)
    assert old.table("first") is not None and "third" not in {n for _, n in old.relations}


def test_admin_endpoint(fresh):
    app, state, run = fresh
    client = app.test_client()
    assert client.post("/admin/reload").status_code == 401
    assert client.post("/admin/reload", headers={"Authorization": "Bearer nope"}).status_code == 401
    response = client.post(
        "/admin/reload", headers={"Authorization": "Bearer s3cret-admin-token-for-tests"}
    )
    assert response.status_code == 200 and response.json["ok"] is True
    ready = client.get("/ready").json
    assert ready["last_reload"]["reason"] == "admin endpoint" and ready["listening"] is True


def test_admin_is_off_without_a_token(app):
    assert app.test_client().post("/admin/reload").status_code == 404


def test_undefined_table_from_the_database_triggers_a_reload(fresh, eventually):
    app, state, run = fresh
    client = app.test_client()
    run("ALTER EVENT TRIGGER pgfront_reload_on_drop DISABLE")
    run("ALTER EVENT TRIGGER pgfront_reload_on_ddl DISABLE")
    run("DROP TABLE first")
    gone = client.get("/api/first")
    assert gone.status_code == 404 and gone.json["code"] == "42P01"
    assert "reloaded" in gone.json["hint"]
    assert eventually(lambda: client.get("/api/first").json["code"] == "PGRST205")


def test_lost_listen_connection_is_re_established(fresh, eventually):
    app, state, run = fresh
    client = app.test_client()
    run(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgfront-listen'"
        " AND datname = current_database()"
    )
    eventually(
        lambda: not state.reloader.listening, 5
    )  # a wait, not a check: it may reconnect at once
    assert eventually(lambda: state.reloader.listening)
    run("CREATE TABLE after_reconnect (id int PRIMARY KEY)")
    assert eventually(lambda: client.get("/api/after_reconnect").status_code == 200)


def test_failed_reload_keeps_the_old_catalog(engine):
    holder = CatalogHolder(reflect_catalog(engine, ["public"]))
    before = holder.current
    broken = make_engine(engine.url.set(port=1), EngineOptions(connect_timeout=1))
    reloader = Reloader(broken, ["public"], holder)
    result = reloader.reload_now("test")
    broken.dispose()
    assert not result.ok and result.error
    assert holder.current is before
