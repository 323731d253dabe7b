"""Prefer on writes as PostgREST: handling, max-affected, tx (with TX_END), limit/order, object+json.

Every refusal after the statement ran is rolled back: each such test re-reads the table.
"""

import shlex

import pytest
import sqlalchemy as sa
from documentation import code_blocks, section

OBJECT = "application/vnd.pgrst.object+json"


def _cities(db_connection):
    return db_connection.execute(sa.text("SELECT id, city, phone FROM branches ORDER BY id")).all()


def _wishes(db_connection, *members):
    return db_connection.execute(
        sa.text("SELECT count(*) FROM wishlist WHERE member_id = ANY(:m)"), {"m": list(members)}
    ).scalar()


def test_strict_handling_refuses_unknown_preferences(client, db_connection):
    before = _cities(db_connection)
    response = client.post(
        "/api/branches",
        json={"name": "Strict", "city": "X"},
        headers=[
            ("Prefer", "return=representation, handling=strict, anything"),
            ("Prefer", "else"),
        ],
    )
    assert response.status_code == 400
    assert response.json == {
        "code": "PGRST122",
        "message": "Invalid preferences given with handling=strict",
        "details": "Invalid preferences: anything, else",
        "hint": None,
    }
    assert _cities(db_connection) == before
    read = client.get("/api/branches?limit=1", headers={"Prefer": "handling=strict, nope=1"})
    assert read.status_code == 400 and read.json["code"] == "PGRST122"


def test_lenient_handling_ignores_them(client):
    response = client.post(
        "/api/branches?select=name",
        json={"name": "Lenient", "city": "X"},
        headers={"Prefer": "return=representation, handling=lenient, anything"},
    )
    assert (response.status_code, response.json) == (201, [{"name": "Lenient"}])
    assert response.headers["Preference-Applied"] == "return=representation, handling=lenient"


def test_max_affected_with_strict_handling_refuses_and_rolls_back(client, db_connection):
    before = _cities(db_connection)
    response = client.patch(
        "/api/branches?city=eq.Northbridge",
        json={"phone": "none"},
        headers={"Prefer": "handling=strict, max-affected=3"},
    )
    assert response.status_code == 400
    assert response.json == {
        "code": "PGRST124",
        "message": "Query result exceeds max-affected preference constraint",
        "details": "The query affects 4 rows",
        "hint": None,
    }
    assert _cities(db_connection) == before
    deleted = client.delete(
        "/api/wishlist?member_id=in.(3,6)", headers={"Prefer": "handling=strict, max-affected=4"}
    )
    assert deleted.status_code == 400 and deleted.json["details"] == "The query affects 5 rows"
    assert _wishes(db_connection, 3, 6) == 5


def test_max_affected_within_its_bound(client, db_connection):
    response = client.delete(
        "/api/wishlist?member_id=eq.3", headers={"Prefer": "handling=strict, max-affected=3"}
    )
    assert response.status_code == 204
    assert response.headers["Preference-Applied"] == "handling=strict, max-affected=3"
    assert _wishes(db_connection, 3) == 0


def test_max_affected_without_strict_handling_is_ignored(client, db_connection):
    response = client.delete(
        "/api/wishlist?member_id=in.(3,6)", headers={"Prefer": "handling=lenient, max-affected=1"}
    )
    assert response.status_code == 204
    assert response.headers["Preference-Applied"] == "handling=lenient"
    assert _wishes(db_connection, 3, 6) == 0


def test_object_json_on_a_write_of_many_rows_is_a_406_and_rolled_back(client, db_connection):
    """Today: a DELETE of 5 rows with return=minimal committed."""
    response = client.delete(
        "/api/wishlist?member_id=in.(3,6)",
        headers={"Accept": OBJECT, "Prefer": "return=minimal"},
    )
    assert response.status_code == 406
    assert response.json == {
        "code": "PGRST116",
        "message": "JSON object requested, multiple (or no) rows returned",
        "details": "The result contains 5 rows",
        "hint": None,
    }
    assert _wishes(db_connection, 3, 6) == 5
    none = client.patch("/api/branches?id=eq.999", json={"phone": "x"}, headers={"Accept": OBJECT})
    assert none.status_code == 406 and none.json["details"] == "The result contains 0 rows"


def test_object_json_on_a_write_of_one_row(client):
    response = client.patch(
        "/api/branches?id=eq.1&select=id,phone",
        json={"phone": "+1"},
        headers={"Accept": OBJECT, "Prefer": "return=representation"},
    )
    assert response.status_code == 200 and response.mimetype == OBJECT
    assert response.json == {"id": 1, "phone": "+1"}


def test_patch_with_limit_and_order_changes_only_the_first_rows(client, db_connection):
    response = client.patch(
        "/api/branches?city=eq.Northbridge&order=id.desc&limit=2&select=id",
        json={"phone": "limited"},
        headers={"Prefer": "return=representation"},
    )
    assert response.status_code == 200
    assert sorted(row["id"] for row in response.json) == [3, 5]
    changed = [row.id for row in _cities(db_connection) if row.phone == "limited"]
    assert changed == [3, 5]


def test_delete_with_limit_and_offset(client, db_connection):
    books = db_connection.execute(
        sa.text("SELECT book_id::text FROM wishlist WHERE member_id = 3 ORDER BY book_id")
    ).scalars()
    first, second, third = list(books)
    response = client.delete(
        "/api/wishlist?member_id=eq.3&order=book_id&limit=1&offset=1&select=book_id",
        headers={"Prefer": "return=representation"},
    )
    assert (response.status_code, response.json) == (200, [{"book_id": second}])
    left = db_connection.execute(
        sa.text("SELECT book_id::text FROM wishlist WHERE member_id = 3 ORDER BY book_id")
    ).scalars()
    assert list(left) == [first, third]


def test_limit_alone_bounds_a_write(client, db_connection):
    response = client.delete("/api/wishlist?limit=2&order=member_id,book_id")
    assert response.status_code == 204
    total = db_connection.execute(sa.text("SELECT count(*) FROM wishlist")).scalar()
    fresh = db_connection.execute(sa.text("SELECT count(*) FROM wishlist WHERE member_id = 3"))
    assert fresh.scalar() == 1 and total > 0


def test_preference_applied_lists_the_write_preferences_in_postgrests_order(client):
    response = client.post(
        "/api/branches?on_conflict=name&columns=name,city",
        json={"name": "Harbour", "city": "Port Ellis"},
        headers={
            "Prefer": "count=exact, return=representation, missing=default, "
            "resolution=merge-duplicates, handling=lenient, max-affected=9, tx=rollback"
        },
    )
    assert response.status_code == 200  # merged into the existing row
    assert response.headers["Preference-Applied"] == (
        "resolution=merge-duplicates, missing=default, return=representation, count=exact, "
        "handling=lenient"
    )
    assert response.headers["Content-Range"] == "*/1"


def test_the_first_of_a_repeated_preference_wins(client):
    response = client.post(
        "/api/branches",
        json={"name": "Twice", "city": "X"},
        headers=[("Prefer", "return=minimal"), ("Prefer", "return=representation")],
    )
    assert response.status_code == 201 and response.get_data() == b""
    assert response.headers["Preference-Applied"] == "return=minimal"


def test_content_range_of_each_write(client):
    posted = client.post("/api/branches", json=[{"name": "R1", "city": "X"}])
    assert posted.headers["Content-Range"] == "*/*"
    patched = client.patch("/api/branches?city=eq.Northbridge", json={"phone": "p"})
    assert patched.headers["Content-Range"] == "0-3/*"
    counted = client.patch(
        "/api/branches?city=eq.Northbridge", json={"phone": "q"}, headers={"Prefer": "count=exact"}
    )
    assert counted.headers["Content-Range"] == "0-3/4"
    deleted = client.delete("/api/wishlist?member_id=eq.3", headers={"Prefer": "count=exact"})
    assert deleted.headers["Content-Range"] == "*/3"


@pytest.fixture
def tx_client(make_app, isolate):
    """A client of an app with the given TX_END, its commits kept inside a test transaction."""

    def build(tx_end):
        app = make_app(TX_END=tx_end)
        return app.test_client(), isolate(app)

    return build


def _named(connection, name):
    return connection.execute(
        sa.text("SELECT count(*) FROM branches WHERE name = :n"), {"n": name}
    ).scalar()


def test_tx_is_ignored_unless_tx_end_allows_it(client, db_connection):
    response = client.post(
        "/api/branches", json={"name": "Kept", "city": "X"}, headers={"Prefer": "tx=rollback"}
    )
    assert response.status_code == 201 and "Preference-Applied" not in response.headers
    assert _named(db_connection, "Kept") == 1


def test_tx_rollback_answers_and_keeps_nothing(tx_client):
    client, connection = tx_client("commit-allow-override")
    response = client.post(
        "/api/branches?select=name",
        json={"name": "Rolled", "city": "X"},
        headers={"Prefer": "return=representation, tx=rollback"},
    )
    assert (response.status_code, response.json) == (201, [{"name": "Rolled"}])
    assert response.headers["Preference-Applied"] == "return=representation, tx=rollback"
    assert _named(connection, "Rolled") == 0
    kept = client.post(
        "/api/branches", json={"name": "Kept", "city": "X"}, headers={"Prefer": "tx=commit"}
    )
    assert kept.headers["Preference-Applied"] == "tx=commit"
    assert _named(connection, "Kept") == 1


def test_tx_end_rollback_keeps_no_write(tx_client):
    client, connection = tx_client("rollback")
    response = client.post(
        "/api/branches", json={"name": "Never", "city": "X"}, headers={"Prefer": "tx=commit"}
    )
    assert response.status_code == 201 and "Preference-Applied" not in response.headers
    assert _named(connection, "Never") == 0
    client, connection = tx_client("rollback-allow-override")
    client.post("/api/branches", json={"name": "Never", "city": "X"})
    assert _named(connection, "Never") == 0
    client.post(
        "/api/branches", json={"name": "Asked", "city": "X"}, headers={"Prefer": "tx=commit"}
    )
    assert _named(connection, "Asked") == 1


def test_a_bad_tx_end_stops_startup(make_app):
    with pytest.raises(Exception, match="TX_END"):
        make_app(TX_END="sometimes")


def _curl_write(line):
    """A README curl write as (method, path, headers, body)."""
    words = shlex.split(line)
    value = {word: words[i + 1] for i, word in enumerate(words) if word in ("-X", "-d")}
    headers = [words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H"]
    (url,) = [word for word in words if word.startswith("http://127.0.0.1:8000/")]
    path = url.removeprefix("http://127.0.0.1:8000")
    return value["-X"], path, dict(h for h in headers if len(h) == 2), value["-d"]


def test_the_readme_write_examples_answer_as_it_says(tx_client):
    block = code_blocks("sh", section("Coming from PostgREST"))[0].replace("\\\n", " ")
    refused, limited, trial = [_curl_write(line) for line in block.splitlines()]
    client, connection = tx_client("commit-allow-override")

    def limits():
        return connection.execute(sa.text("SELECT id, max_loans FROM members ORDER BY id")).all()

    before = limits()
    method, path, headers, body = refused
    response = client.open(path, method=method, headers=headers, data=body)
    assert response.status_code == 400 and response.json["code"] == "PGRST124"
    assert limits() == before
    method, path, headers, body = limited
    response = client.open(path, method=method, headers=headers, data=body)
    assert response.status_code == 204
    assert response.headers["Preference-Applied"] == "handling=strict, max-affected=10"
    assert sum(a != b for a, b in zip(before, limits(), strict=True)) == 10
    method, path, headers, body = trial
    response = client.open(path, method=method, headers=headers, data=body)
    assert (response.status_code, response.json) == (201, [{"name": "Trial"}])
    assert response.headers["Preference-Applied"] == "return=representation, tx=rollback"
    assert _named(connection, "Trial") == 0
