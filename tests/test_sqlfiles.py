"""apply-sql: name order, one transaction per file, a checksum ledger, refusal of edited files."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from db.sqlfiles import SqlFileChanged, SqlFileFailed, apply_sql_dir, read_sql_dir


@pytest.fixture
def empty_engine(pg_server):
    engine = sa.create_engine(pg_server.create_database("pgfront_sqlfiles"))
    yield engine
    engine.dispose()


def _write(folder, name, text):
    (folder / name).write_text(text)


def _ledger(engine):
    with engine.connect() as conn:
        return (
            conn.execute(
                sa.text("SELECT filename FROM pgfront.applied_sql_files ORDER BY filename")
            )
            .scalars()
            .all()
        )


def test_files_apply_in_name_order_once(empty_engine, tmp_path):
    _write(tmp_path, "010_rows.sql", "INSERT INTO t VALUES (2);")
    _write(tmp_path, "002_table.sql", "CREATE TABLE t (x int); INSERT INTO t VALUES (1);")
    _write(tmp_path, "notes.txt", "not sql")
    _write(tmp_path, "draft.sql", "this is not numbered, so it is never applied")
    assert apply_sql_dir(empty_engine, tmp_path) == ["002_table.sql", "010_rows.sql"]
    assert apply_sql_dir(empty_engine, tmp_path) == []  # idempotent
    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT array_agg(x ORDER BY x) FROM t")).scalar() == [1, 2]
    assert _ledger(empty_engine) == ["002_table.sql", "010_rows.sql"]


def test_new_file_is_applied_later(empty_engine, tmp_path):
    _write(tmp_path, "001_a.sql", "CREATE TABLE a (x int);")
    apply_sql_dir(empty_engine, tmp_path)
    _write(tmp_path, "002_b.sql", "CREATE TABLE b (x int);")
    assert apply_sql_dir(empty_engine, tmp_path) == ["002_b.sql"]


def test_changed_file_is_refused_before_anything_runs(empty_engine, tmp_path):
    _write(tmp_path, "001_a.sql", "CREATE TABLE a (x int);")
    apply_sql_dir(empty_engine, tmp_path)
    _write(tmp_path, "001_a.sql", "CREATE TABLE a (x int, y int);")
    _write(tmp_path, "002_b.sql", "CREATE TABLE b (x int);")
    with pytest.raises(SqlFileChanged, match="001_a.sql was applied on .* new numbered file"):
        apply_sql_dir(empty_engine, tmp_path)
    assert _ledger(empty_engine) == ["001_a.sql"]  # 002 did not run either


def test_failing_file_is_rolled_back_whole(empty_engine, tmp_path):
    _write(tmp_path, "001_ok.sql", "CREATE TABLE ok (x int);")
    _write(tmp_path, "002_bad.sql", "CREATE TABLE half (x int);\nSELECT * FROM no_such_table;")
    with pytest.raises(SqlFileFailed, match="002_bad.sql failed and was rolled back"):
        apply_sql_dir(empty_engine, tmp_path)
    assert _ledger(empty_engine) == ["001_ok.sql"]
    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass('half')")).scalar() is None


def test_percent_signs_and_quotes_in_files_are_left_alone(empty_engine, tmp_path):
    _write(
        tmp_path,
        "001_t.sql",
        "CREATE TABLE t (s text); INSERT INTO t VALUES ('50%% off %s ''q''');",
    )
    apply_sql_dir(empty_engine, tmp_path)
    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT s FROM t")).scalar() == "50%% off %s 'q'"


def test_project_sql_files_are_numbered():
    names = [f.name for f in read_sql_dir(Path(__file__).resolve().parent.parent / "sql")]
    assert names == [
        "001_extensions.sql",
        "002_library.sql",
        "003_reporting.sql",
        "004_sample_data.sql",
        "005_reload_on_ddl.sql",
        "006_roles.sql",
        "007_login_role.sql",
        "008_relationships.sql",
        "009_anonymous_loan_counts.sql",
        "010_functions.sql",
    ]


def test_transaction_control_in_a_file_is_refused_before_anything_runs(empty_engine, tmp_path):
    _write(tmp_path, "001_ok.sql", "CREATE TABLE ok (x int);")
    _write(tmp_path, "002_tx.sql", "begin;\nCREATE TABLE a (x int);\nCOMMIT ;\n")
    with pytest.raises(SqlFileFailed, match="002_tx.sql line 1: BEGIN is not allowed"):
        apply_sql_dir(empty_engine, tmp_path)
    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT to_regclass('ok')")).scalar() is None


def test_plpgsql_begin_end_is_fine(empty_engine, tmp_path):
    _write(
        tmp_path,
        "001_f.sql",
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$;",
    )
    assert apply_sql_dir(empty_engine, tmp_path) == ["001_f.sql"]


def test_settings_of_one_file_do_not_reach_the_next(empty_engine, tmp_path):
    _write(
        tmp_path,
        "001_app.sql",
        "CREATE SCHEMA app; SET search_path = app; CREATE ROLE apply_test_role;"
        " SET ROLE apply_test_role;",
    )
    _write(tmp_path, "002_b.sql", "CREATE TABLE b (x int);")
    try:
        assert apply_sql_dir(empty_engine, tmp_path) == ["001_app.sql", "002_b.sql"]
        with empty_engine.connect() as conn:
            assert conn.execute(sa.text("SELECT to_regclass('public.b')")).scalar() == "b"
    finally:
        with empty_engine.begin() as conn:
            conn.execute(sa.text("DROP ROLE IF EXISTS apply_test_role"))


def test_no_statement_timeout_while_applying(pg_server, tmp_path):
    from db.engine import EngineOptions, make_engine

    engine = make_engine(
        pg_server.create_database("pgfront_slow"), EngineOptions(statement_timeout_ms=100)
    )
    _write(tmp_path, "001_slow.sql", "SELECT pg_sleep(0.3);")
    try:
        assert apply_sql_dir(engine, tmp_path) == ["001_slow.sql"]
        with engine.connect() as conn:  # the pooled connection has its own timeout back
            assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == "100ms"
    finally:
        engine.dispose()


def test_non_utf8_file_is_a_clear_error(empty_engine, tmp_path):
    (tmp_path / "001_latin1.sql").write_bytes("SELECT 'café';".encode("latin-1"))
    with pytest.raises(SqlFileFailed, match="001_latin1.sql is not UTF-8"):
        apply_sql_dir(empty_engine, tmp_path)


def test_out_of_order_file_is_noted(empty_engine, tmp_path):
    _write(tmp_path, "002_b.sql", "CREATE TABLE b (x int);")
    apply_sql_dir(empty_engine, tmp_path)
    _write(tmp_path, "001_a.sql", "CREATE TABLE a (x int);")
    lines = []
    assert apply_sql_dir(empty_engine, tmp_path, log=lines.append) == ["001_a.sql"]
    assert lines[0].startswith("note: 001_a.sql sorts before 002_b.sql")


# The DBA's loop: what apply-sql says while it works, which edits it refuses, whom it tells.

RELOAD_TRIGGER = Path(__file__).resolve().parent.parent / "sql" / "005_reload_on_ddl.sql"


def test_a_changed_trailing_comment_is_refused_too(empty_engine, tmp_path):
    _write(tmp_path, "001_a.sql", "CREATE TABLE a (x int);\n")
    apply_sql_dir(empty_engine, tmp_path)
    _write(tmp_path, "001_a.sql", "CREATE TABLE a (x int);\n-- x: the answer\n")
    with pytest.raises(SqlFileChanged, match="001_a.sql was applied on"):
        apply_sql_dir(empty_engine, tmp_path)


def test_every_changed_file_is_named(empty_engine, tmp_path):
    for name in ("001_a.sql", "002_b.sql", "003_c.sql"):
        _write(tmp_path, name, f"CREATE TABLE t{name[2]} (x int);")
    apply_sql_dir(empty_engine, tmp_path)
    _write(tmp_path, "001_a.sql", "CREATE TABLE t1 (x int, y int);")
    _write(tmp_path, "003_c.sql", "CREATE TABLE t3 (x bigint);")
    with pytest.raises(SqlFileChanged) as refused:
        apply_sql_dir(empty_engine, tmp_path)
    message = str(refused.value)
    assert message.startswith("2 applied files have changed since: 001_a.sql (applied on ")
    assert "003_c.sql (applied on " in message and "002_b.sql" not in message
    assert message.endswith("put the change in a new numbered file.") and "\n" not in message


def _notifications(engine, channel, action):
    """The payloads sent on channel while action() runs, up to a marker sent after it."""
    import psycopg

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {channel}")
        action()
        # Notifications arrive in commit order: once the marker is here, all before it are.
        listener.execute(f"NOTIFY {channel}, 'marker'")
        payloads = []
        for notify in listener.notifies(timeout=30):
            if notify.payload == "marker":
                return payloads
            payloads.append(notify.payload)
    raise AssertionError("the marker notification never arrived")


def test_applying_tells_running_apps_to_reload(empty_engine, tmp_path):
    _write(tmp_path, "001_a.sql", "CREATE TABLE a (x int);")
    sent = _notifications(
        empty_engine,
        "team_ch",
        lambda: apply_sql_dir(empty_engine, tmp_path, reload_channel="team_ch"),
    )
    assert sent == ["reload schema"]
    nothing_new = _notifications(
        empty_engine,
        "team_ch",
        lambda: apply_sql_dir(empty_engine, tmp_path, reload_channel="team_ch"),
    )
    assert nothing_new == []


def test_a_refused_apply_tells_no_app_to_reload(empty_engine, tmp_path):
    _write(tmp_path, "001_reload_on_ddl.sql", RELOAD_TRIGGER.read_text())
    _write(tmp_path, "002_a.sql", "CREATE TABLE a (x int);")
    apply_sql_dir(empty_engine, tmp_path)
    _write(tmp_path, "002_a.sql", "CREATE TABLE a (x int, y int);")
    _write(tmp_path, "003_b.sql", "CREATE TABLE b (x int);")

    def refused():
        with pytest.raises(SqlFileChanged):
            apply_sql_dir(empty_engine, tmp_path, reload_channel="pgfront")

    assert _notifications(empty_engine, "pgfront", refused) == []


def test_each_file_is_announced_then_timed(empty_engine, tmp_path):
    _write(tmp_path, "001_a.sql", "CREATE TABLE a (x int);")
    _write(tmp_path, "002_b.sql", "CREATE TABLE b (x int);")
    lines = []
    apply_sql_dir(empty_engine, tmp_path, log=lines.append)
    assert [line.split(" in ")[0] for line in lines] == [
        "applying 001_a.sql ...",
        "applied 001_a.sql",
        "applying 002_b.sql ...",
        "applied 002_b.sql",
    ]
    assert lines[1].endswith(" s")


def test_a_long_file_says_it_is_still_running(empty_engine, tmp_path, eventually):
    import threading

    _write(tmp_path, "001_waits.sql", "SELECT pg_advisory_xact_lock(4242);")
    lines = []
    with empty_engine.connect() as holder:
        holder.execute(sa.text("SELECT pg_advisory_lock(4242)"))  # the file waits for us
        applying = threading.Thread(
            target=apply_sql_dir,
            args=(empty_engine, tmp_path),
            kwargs={"log": lines.append, "progress_every": 0.1},
        )
        applying.start()
        try:
            assert eventually(lambda: any(line.startswith("still running: ") for line in lines))
        finally:
            holder.execute(sa.text("SELECT pg_advisory_unlock(4242)"))
            applying.join(timeout=30)
    still = [line for line in lines if line.startswith("still running: ")]
    assert still[0].startswith("still running: 001_waits.sql (") and still[0].endswith(" s)")
    assert lines[-1].startswith("applied 001_waits.sql in ")


def test_files_the_folder_no_longer_has_are_noted(empty_engine, tmp_path):
    _write(tmp_path, "001_a.sql", "CREATE TABLE a (x int);")
    apply_sql_dir(empty_engine, tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _write(other, "001_mine.sql", "CREATE TABLE mine (x int);")
    lines = []
    apply_sql_dir(empty_engine, other, log=lines.append)
    assert lines[0].startswith(f"note: the database has applied files that {other} does not")
    assert "001_a.sql" in lines[0]
