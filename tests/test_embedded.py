"""The embedded server's folder: its lock, the state file it publishes, and reaching it from a second process."""

import fcntl
import json
import os
import stat
import subprocess

import psycopg
import pytest

from db.embedded import EmbeddedError, EmbeddedPostgres


@pytest.fixture
def embedded(pg_server):
    if pg_server.embedded is None:
        pytest.skip("TEST_DATABASE_URL is set: no embedded server in this run")
    return pg_server.embedded


def test_the_state_file_names_the_owner_and_port_and_only_the_owner_reads_it(embedded):
    state_file = embedded.folder / "running.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert json.loads(state_file.read_text()) == {"pid": os.getpid(), "port": embedded.port}


def test_another_user_of_the_folder_attaches_and_leaves_the_server_running(embedded):
    other = EmbeddedPostgres(embedded.folder)
    with pytest.raises(EmbeddedError, match=rf"is in use by process {os.getpid()}; stop it first"):
        other.start()
    other.start(attach=True)
    assert other.port == embedded.port and other.owner_pid == os.getpid()
    conninfo = other.url().set(drivername="postgresql").render_as_string(hide_password=False)
    other.stop()  # not its server: it stays up
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert (embedded.folder / "running.json").exists()


def test_a_stale_state_file_is_not_trusted(tmp_path):
    folder = tmp_path / "postgres"
    folder.mkdir()
    dead_pid = subprocess.Popen(["true"])  # a pid that no longer runs
    dead_pid.wait()
    (folder / "running.json").write_text(json.dumps({"pid": dead_pid.pid, "port": 1}))
    holder = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)  # someone holds the folder, but publishes nothing live
    try:
        server = EmbeddedPostgres(folder)
        with pytest.raises(EmbeddedError, match="is in use by another process") as refused:
            server.start(attach=True, wait=0.3)
        assert str(dead_pid.pid) not in str(refused.value)
        assert server.port is None
    finally:
        os.close(holder)


def test_without_an_owner_nothing_is_running(tmp_path):
    folder = tmp_path / "postgres"
    folder.mkdir()
    (folder / "running.json").write_text(json.dumps({"pid": os.getpid(), "port": 1}))
    assert EmbeddedPostgres(folder).running_elsewhere() is None  # the lock is free: stale
