"""The README's examples run as written."""

import re
from pathlib import Path

import sqlalchemy as sa

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def _block(marker):
    (block,) = [block for block in PYTHON_BLOCKS if marker in block]
    return block


def test_readme_starts_with_the_two_commands():
    commands = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)[:2]
    assert "run.py" in commands[0] and "[embedded]" in commands[0]
    assert "pytest" in commands[1] and "[test]" in commands[1]
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_own_view_example(make_app):
    namespace = {"__name__": "readme_example"}
    exec(_block('Blueprint("reports"'), namespace)
    app = make_app()
    app.register_blueprint(namespace["bp"])
    response = app.test_client().get("/reports/late-members")
    assert response.status_code == 200
    rows = response.json
    assert 0 < len(rows) <= 20
    assert [row["late"] for row in rows] == sorted((row["late"] for row in rows), reverse=True)


def test_script_example(database_url):
    url = database_url.render_as_string(hide_password=False)
    code = _block("session_scope(bind=engine)").replace(
        "postgresql://user:password@localhost/library", url
    )
    namespace = {"__name__": "readme_example"}
    exec(code, namespace)
    engine = namespace["engine"]
    assert engine.pool.checkedout() == 0
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM book_popularity")).scalar() > 0
    engine.dispose()
