"""@supabase/postgrest-js, the JavaScript client PostgREST apps use, unchanged, against the API.

Needs Node.js and npm: the client is installed into tests/postgrest_js/ (npm install) the first
time; without Node the tests are skipped, saying so. tests/postgrest_js/queries.mjs runs the
queries and prints their results; the expectations are computed with SQL here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

CLIENT_DIR = Path(__file__).parent / "postgrest_js"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def postgrest_js() -> Path:
    """The folder with @supabase/postgrest-js installed, or a skip naming what is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: @supabase/postgrest-js cannot run")
    if not (CLIENT_DIR / "node_modules" / "@supabase" / "postgrest-js").is_dir():
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CLIENT_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.skip(
                f"npm install of @supabase/postgrest-js failed: {done.stderr.strip()[:300]}"
            )
    return CLIENT_DIR


@pytest.fixture
def results(postgrest_js, served_api) -> dict:
    """Every query of queries.mjs, run once against the served API."""
    done = subprocess.run(
        ["node", "queries.mjs", served_api],
        cwd=postgrest_js,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _column(db_connection, sql: str) -> list:
    return list(db_connection.execute(sa.text(sql)).scalars())


def test_inner_embed_and_its_count(results, db_connection):
    expected = _column(
        db_connection,
        "SELECT id FROM members m WHERE EXISTS (SELECT FROM member_cards c WHERE c.member_id = m.id)"
        " ORDER BY id",
    )
    inner = results["inner"]
    assert inner["error"] is None
    assert [row["id"] for row in inner["data"]] == expected[:3]
    assert inner["count"] == len(expected)
    assert all(row["member_cards"]["card_no"] for row in inner["data"])


def test_inner_embed_filtered_by_its_column(results, db_connection):
    expected = _column(
        db_connection,
        "SELECT isbn FROM books b WHERE EXISTS (SELECT FROM copies c WHERE c.book_id = b.id"
        " AND c.branch_id = 2) ORDER BY isbn LIMIT 3",
    )
    data = results["innerFiltered"]["data"]
    assert [row["isbn"] for row in data] == expected
    assert {copy["branch_id"] for row in data for copy in row["copies"]} == {2}


def test_spread_embed(results, db_connection):
    expected = db_connection.execute(
        sa.text(
            "SELECT b.title, a.name FROM books b JOIN authors a ON a.id = b.author_id"
            " ORDER BY b.isbn LIMIT 2"
        )
    ).all()
    assert results["spread"]["data"] == [{"title": t, "writer": n} for t, n in expected]


def test_or_across_an_embed_and_inside_one(results, db_connection):
    expected = _column(
        db_connection,
        "SELECT id FROM members m WHERE id < 3 OR NOT EXISTS (SELECT FROM member_cards c"
        " WHERE c.member_id = m.id) ORDER BY id LIMIT 5",
    )
    assert [row["id"] for row in results["orAcrossEmbed"]["data"]] == expected
    inside = results["orInsideEmbed"]["data"]
    assert len(inside) == 2
    assert all(book["title"][0] in "AB" for row in inside for book in row["books"])


def test_count_without_rows_and_single(results, db_connection):
    total = _column(db_connection, "SELECT count(*) FROM branches")[0]
    assert results["countOnly"]["count"] == total and results["countOnly"]["data"] is None
    assert results["single"]["data"] == {"name": "Central"}


def test_functions_through_rpc(results, db_connection):
    titles = _column(
        db_connection,
        "SELECT title FROM search_books('archive') WHERE pages > 100 ORDER BY title DESC",
    )
    rows = results["rpcRows"]
    assert rows["error"] is None and rows["count"] == len(titles)
    assert [row["title"] for row in rows["data"]] == titles[:3]
    poetry = _column(db_connection, "SELECT book_count(of_genre => 'poetry')")[0]
    assert results["rpcScalar"]["data"] == poetry
    assert [row["branch"] for row in results["rpcGet"]["data"]] == ["Central"]


def test_full_text_search(results, db_connection):
    expected = _column(
        db_connection,
        "SELECT isbn FROM books WHERE search @@ to_tsquery('english', '''secret'' & ''meadow''')"
        " ORDER BY isbn",
    )
    assert [row["isbn"] for row in results["fullText"]["data"]] == expected
    assert expected  # the sample has such titles: the check can fail
    web = _column(
        db_connection,
        "SELECT isbn FROM books WHERE to_tsvector('english', title)"
        " @@ websearch_to_tsquery('english', 'secret -meadow') ORDER BY isbn",
    )
    assert [row["isbn"] for row in results["webSearch"]["data"]] == web[:1000]
    assert web  # the sample has such titles: the check can fail


def test_json_paths_in_select_and_filter(results, db_connection):
    expected = db_connection.execute(
        sa.text(
            "SELECT isbn, details->'publisher'->>'name' FROM books"
            " WHERE details->>'language' = 'en' ORDER BY isbn LIMIT 3"
        )
    ).all()
    assert results["jsonPath"]["data"] == [{"isbn": i, "publisher": p} for i, p in expected]
