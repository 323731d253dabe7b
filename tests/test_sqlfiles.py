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
