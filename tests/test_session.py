"""Session scoping: per app context, per thread, removed at teardown, never leaked."""

import threading

import pytest
import sqlalchemy as sa
from flask import Blueprint

from db.session import Session, session_scope


@pytest.fixture(scope="module")
def probe_app(make_app):
    """An app with views that expose what the Session does, on real connections."""
    app = make_app(keep=True, DB_APPLICATION_NAME="pgfront-session-test")
    probe = Blueprint("probe", __name__)
    seen = {}

    @probe.get("/probe/same")
    def same():
        first, second = Session(), Session()
        seen["request"] = first
        return {"same": first is second}

    @probe.get("/probe/nested")
    def nested():
        outer = Session()
        outer.execute(sa.text("SELECT 1"))
        with app.app_context():
            inner = Session()
            inner.execute(sa.text("SELECT 1"))
            seen["inner_is_outer"] = inner is outer
        # The nested teardown must not have closed the request's session.
        still_open = outer.in_transaction()
        return {"outer_in_transaction": still_open, "inner_is_outer": seen["inner_is_outer"]}

    @probe.get("/probe/fail")
    def fail():
        Session.execute(sa.text("SELECT 1"))
        seen["failed"] = Session()
        raise RuntimeError("boom")

    @probe.get("/probe/write-then-fail")
    def write_then_fail():
        Session.execute(sa.text("CREATE TEMP TABLE IF NOT EXISTS probe_t (x int)"))
        Session.execute(sa.text("SELECT pg_sleep(0)"))
        raise RuntimeError("boom after a statement")

    @probe.get("/probe/thread")
    def thread():
        outer = Session()
        outer.execute(sa.text("SELECT 1"))
        found = {}

        def job():
            with session_scope(bind=app.extensions["pgfront"].engine) as session:
                found["value"] = session.execute(sa.text("SELECT 41 + 1")).scalar()
                found["separate"] = session is not outer

        worker = threading.Thread(target=job)
        worker.start()
        worker.join()
        return {**found, "outer_in_transaction": outer.in_transaction()}

    @probe.route("/probe/readonly", methods=["GET", "POST"])
    def readonly():
        return {"read_only": Session.execute(sa.text("SHOW transaction_read_only")).scalar()}

    @probe.get("/probe/write-in-get")
    def write_in_get():
        Session.execute(sa.text("CREATE TEMP TABLE probe_w (x int)"))
        return {}

    app.register_blueprint(probe)
    app.probe_seen = seen
    return app


def _idle_in_transaction(engine, application_name):
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = :n AND state LIKE 'idle in transaction%'"
            ),
            {"n": application_name},
        ).scalar()


def test_one_session_per_request(probe_app):
    client = probe_app.test_client()
    assert client.get("/probe/same").json == {"same": True}
    first = probe_app.probe_seen["request"]
    client.get("/probe/same")
    assert probe_app.probe_seen["request"] is not first


def test_nested_app_context_gets_its_own_session(probe_app):
    response = probe_app.test_client().get("/probe/nested")
    assert response.json == {"outer_in_transaction": True, "inner_is_outer": False}


def test_exception_leaves_no_open_transaction(probe_app, engine):
    client = probe_app.test_client()
    response = client.get("/probe/fail")
    assert response.status_code == 500
    assert "boom" not in response.get_data(as_text=True)  # no internals reach the client
    assert not probe_app.probe_seen["failed"].in_transaction()
    assert probe_app.extensions["pgfront"].engine.pool.checkedout() == 0


def test_sessions_differ_across_threads(probe_app):
    sessions = {}

    def work(name):
        with probe_app.app_context():
            sessions[name] = Session()
            Session.execute(sa.text("SELECT 1"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(session) for session in sessions.values()}) == 4
    assert probe_app.extensions["pgfront"].engine.pool.checkedout() == 0


def test_session_scope_for_scripts_closes_its_connection(probe_app):
    engine = probe_app.extensions["pgfront"].engine
    with session_scope(bind=engine) as session:
        assert session.execute(sa.text("SELECT 2")).scalar() == 2
        assert engine.pool.checkedout() == 1
        with session_scope(bind=engine) as inner:
            assert inner is not session
        assert Session() is session  # the outer block's session is back
    assert engine.pool.checkedout() == 0


def test_no_leaks_after_many_requests_with_errors(probe_app, engine):
    client = probe_app.test_client()
    paths = [
        "/api/books?limit=2",
        "/api/nope",
        "/api/books?id=eq.not-a-uuid",
        "/probe/fail",
        "/probe/write-then-fail",
        "/",
        "/browse/public/loans",
        "/api/loans?limit=oops",
    ]
    statuses = [client.get(path).status_code for _ in range(10) for path in paths]
    assert {200, 400, 404, 500} <= set(statuses)
    assert probe_app.extensions["pgfront"].engine.pool.checkedout() == 0
    assert _idle_in_transaction(engine, "pgfront-session-test") == 0


def test_cli_command_runs_in_its_own_scope(probe_app):
    engine = probe_app.extensions["pgfront"].engine

    @probe_app.cli.command("count-branches")
    def count_branches():
        print(Session.execute(sa.text("SELECT count(*) FROM branches")).scalar())

    result = probe_app.test_cli_runner().invoke(args=["count-branches"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "6"
    assert engine.pool.checkedout() == 0


def test_background_thread_uses_its_own_session(probe_app):
    body = probe_app.test_client().get("/probe/thread").json
    assert body == {"value": 42, "separate": True, "outer_in_transaction": True}
    assert probe_app.extensions["pgfront"].engine.pool.checkedout() == 0


def test_reentered_app_context_leaks_nothing(probe_app):
    engine = probe_app.extensions["pgfront"].engine
    ctx = probe_app.app_context()
    with ctx:
        first = Session()
        first.execute(sa.text("SELECT 1"))
        with ctx:
            assert Session() is first
        assert first.in_transaction()
    assert engine.pool.checkedout() == 0
    assert Session.registry.has() is False


def test_get_and_head_run_read_only(probe_app):
    client = probe_app.test_client()
    assert client.get("/probe/readonly").json == {"read_only": "on"}
    assert client.post("/probe/readonly").json == {"read_only": "off"}
    refused = client.get("/probe/write-in-get")
    assert refused.status_code == 405  # read_only_sql_transaction (25006), as an HTML page here
    assert "read-only transaction" in refused.get_data(as_text=True)
    assert probe_app.extensions["pgfront"].engine.pool.checkedout() == 0
