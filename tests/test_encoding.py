"""JSON encoding of every column type of the sample schema, checked against the database."""

import base64
import csv
import datetime as dt
import io
import json
import uuid
from decimal import Decimal

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.pipeline.values import csv_cell, csv_text, dumps, encode_value, iso_duration


@pytest.fixture
def known_book(db_connection):
    """A book with one value of every type, inserted inside the test's transaction."""
    author_id = db_connection.execute(sa.text("SELECT min(id) FROM authors")).scalar()
    return db_connection.execute(
        sa.text(
            "INSERT INTO books (isbn, title, author_id, genre, published_on, price, pages, tags,"
            " details, cover, added_at)"
            " VALUES ('9999999999999', 'Ünïcode & <markup>', :author, 'poetry', '2001-02-03',"
            " 123456.70, 321, ARRAY['a,b', 'quote\"d', 'ä'], '{\"n\": 1, \"l\": [true, null]}',"
            " '\\x00ff10'::bytea, '2024-05-06 07:08:09.123456+02')"
            " RETURNING id"
        ),
        {"author": author_id},
    ).scalar()


def test_book_values(client, db_connection, known_book):
    response = client.get(f"/api/books?id=eq.{known_book}")
    raw = response.get_data(as_text=True)
    (book,) = json.loads(raw, parse_float=Decimal)
    assert book["id"] == str(known_book)
    assert book["title"] == "Ünïcode & <markup>"
    assert book["genre"] == "poetry"
    assert book["published_on"] == "2001-02-03"
    assert '"price":123456.70' in raw  # a JSON number, trailing zero and all digits kept
    assert book["price"] == Decimal("123456.70")
    assert book["pages"] == 321
    assert book["tags"] == ["a,b", 'quote"d', "ä"]
    assert book["details"] == {"n": 1, "l": [True, None]}
    assert base64.b64decode(book["cover"]) == b"\x00\xff\x10"
    assert dt.datetime.fromisoformat(book["added_at"]) == dt.datetime(
        2024, 5, 6, 5, 8, 9, 123456, tzinfo=dt.UTC
    )
    search = db_connection.execute(
        sa.text("SELECT search::text FROM books WHERE id = :id"), {"id": known_book}
    ).scalar()
    assert book["search"] == search and "code" in search  # tsvector: served as its text
    assert book["sequel_of"] is None


def test_member_values(client, db_connection):
    member = db_connection.execute(
        sa.text("SELECT id, email::text, active, max_loans FROM members ORDER BY id LIMIT 1")
    ).one()
    (row,) = client.get(f"/api/members?id=eq.{member.id}").json
    assert row["id"] == member.id
    assert row["email"] == member.email  # a domain over citext (an extension type): text
    assert row["active"] is member.active
    assert row["max_loans"] == member.max_loans


def test_loan_values(client, db_connection):
    loan_id = db_connection.execute(
        sa.text(
            "UPDATE loans SET extension = '2 days 03:04:05.5', fee = 1.05"
            " WHERE id = (SELECT min(id) FROM loans) RETURNING id"
        )
    ).scalar()
    response = client.get(f"/api/loans?id=eq.{loan_id}")
    (loan,) = response.json
    assert loan["extension"] == "P2DT3H4M5.5S"
    assert '"fee":1.05' in response.get_data(as_text=True)
    assert dt.date.fromisoformat(loan["due_on"])


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (Decimal("NaN"), '"NaN"'),
        (Decimal("-0.000000000000000000001"), "-1E-21"),
        (Decimal("12345678901234567890.123456789"), "12345678901234567890.123456789"),
        (dt.timedelta(0), '"PT0S"'),
        (dt.timedelta(days=-1), '"-P1D"'),
        (memoryview(b"hi"), '"aGk="'),
        (dt.time(12, 30), '"12:30:00"'),
    ],
)
def test_encoder_edge_cases(value, encoded):
    assert dumps(value).decode() == encoded


def test_iso_duration_round_numbers():
    assert iso_duration(dt.timedelta(days=14)) == "P14D"
    assert iso_duration(dt.timedelta(minutes=90)) == "PT1H30M"


def test_values_python_cannot_hold(client, db_connection):
    db_connection.execute(
        sa.text(
            'UPDATE books SET details = \'{"big": 123456789012345678901234567890,'
            " \"exact\": 0.1000000000000000055511151231257827}', published_on = 'infinity',"
            " added_at = '-infinity' WHERE isbn = (SELECT min(isbn) FROM books)"
        )
    )
    response = client.get("/api/books?select=details,published_on,added_at&order=isbn&limit=1")
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    assert '"big":123456789012345678901234567890' in raw
    assert '"exact":0.1000000000000000055511151231257827' in raw
    assert response.json[0]["published_on"] == "infinity"
    assert response.json[0]["added_at"] == "-infinity"


def test_time_with_zone():
    assert dumps(dt.time(1, 2, tzinfo=dt.UTC)).decode() == '"01:02:00+00:00"'


@pytest.mark.parametrize(
    "value",
    [
        None,
        "plain",
        'a "quoted", multi\nline',
        0,
        -(2**70),
        True,
        False,
        1.5,
        1e16,
        Decimal("12.3400"),
        Decimal("1E+2"),
        Decimal("NaN"),
        Decimal("Infinity"),
        dt.date(2024, 2, 29),
        dt.datetime(2024, 1, 1, 9, 14, 0, 258, tzinfo=dt.UTC),
        dt.datetime(2024, 1, 1, 9, 14),
        dt.time(4, 13, 56, 49744),
        dt.time(4, 13, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        dt.timedelta(days=3, hours=4),
        uuid.UUID("00068611-aead-4979-118b-5daa843c3e17"),
        {"a": [1, None, "x"]},
        ["x", 2],
        b"\x00\xffbinary",
    ],
)
def test_csv_fields_write_what_csv_cell_writes(value):
    reference = io.StringIO()
    csv.writer(reference, lineterminator="\r\n").writerow(["", csv_cell(value), ""])
    assert csv_text(["a", "b", "c"], [["", value, ""]], header=False) == reference.getvalue()


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # past 64 bits too, which orjson refuses
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(),
    st.dates(),
    st.uuids(),
)
_JSON_LIKE = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(), st.integers(0, 10**6)), inner, max_size=4),
    ),
    max_leaves=20,
)


def _big_as_fragments(data):
    """data with integers past 64 bits as their digits, which orjson then writes as they are."""
    if isinstance(data, dict):
        return {key: _big_as_fragments(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_big_as_fragments(value) for value in data]
    if isinstance(data, int) and not isinstance(data, bool) and data.bit_length() > 63:
        return orjson.Fragment(str(data))
    return data


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=_JSON_LIKE, indent=st.booleans())
def test_big_integers_and_deep_nesting_are_written_as_orjson_writes_the_rest(data, indent):
    """jsonb may hold what orjson refuses (integers past 64 bits, nesting past 254 levels)."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    expected = orjson.dumps(_big_as_fragments(data), default=encode_value, option=option)
    assert dumps(data, indent=indent) == expected
    deep = data
    for _ in range(300):
        deep = [deep]
    assert dumps(deep) == b"[" * 300 + dumps(data) + b"]" * 300
