"""CSV formula injection: text cells a spreadsheet would run get a ' in front (OWASP).

The pages' downloads always do it; the API's text/csv only with CSV_SAFE_CELLS=true (off
by default, so its CSV stays PostgREST's byte for byte). Text is told by the value's type:
-5 in a number column is a number, "-5" in a text column is text.
"""

import csv
import io
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.pipeline.values import csv_text

FORMULAS = ["=1+1", "+1", "-2", "@SUM(A1:A9)", "\tTAB", "\rCR", '=HYPERLINK("http://x","y")']
HARMLESS = ["", "a=b", " =1", "'=1", "ok"]


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("extra", [7, Decimal("-5.50")], ids=["plain batch", "converted batch"])
def test_safe_text_cells_start_with_a_quote_and_numbers_do_not(extra):
    rows = [[text, -5, extra, None] for text in FORMULAS + HARMLESS]
    safe = _cells(csv_text(["t", "n", "x", "z"], rows, safe=True))[1:]
    assert [row[0] for row in safe] == ["'" + text for text in FORMULAS] + HARMLESS
    assert {row[1] for row in safe} == {"-5"} and {row[2] for row in safe} == {str(extra)}
    raw = _cells(csv_text(["t", "n", "x", "z"], rows))[1:]
    assert [row[0] for row in raw] == FORMULAS + HARMLESS


def _reference(rows, safe):
    """CSV written value by value, the slow obvious way."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        cells = []
        for value in row:
            text = "" if value is None else str(value)
            if safe and isinstance(value, str) and text and text[0] in "=+-@\t\r":
                text = "'" + text
            cells.append(text)
        writer.writerow(cells)
    return out.getvalue()


_VALUE = st.one_of(
    st.none(),
    st.integers(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.text(max_size=6),
    st.sampled_from(FORMULAS),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    rows=st.integers(1, 4).flatmap(
        lambda width: st.lists(st.lists(_VALUE, min_size=width, max_size=width), max_size=6)
    ),
    safe=st.booleans(),
)
def test_every_batch_writes_what_the_obvious_writer_writes(rows, safe):
    """The fast path (batches of text, integers and nulls) and the converting one agree."""
    assert csv_text([], rows, header=False, safe=safe) == _reference(rows, safe)


def _formula_rows(connection) -> str:
    """Authors whose text cells start like formulas, and two books whose jsonb is -5 and "-5".

    Returns the books' filter.
    """
    connection.execute(
        sa.text(
            "INSERT INTO authors (id, name, country, bio) VALUES"
            " (-5, '=cmd|'' /C calc''!A0', '+1', '@SUM(A1)'),"
            " (-6, '-2', E'\\tx', 'fine')"
        )
    )
    first, second = connection.execute(
        sa.text("SELECT isbn FROM books ORDER BY isbn LIMIT 2")
    ).scalars()
    connection.execute(
        sa.text(
            "UPDATE books SET details = CASE WHEN isbn = :first"
            " THEN '-5'::jsonb ELSE '\"-5\"'::jsonb END WHERE isbn IN (:first, :second)"
        ),
        {"first": first, "second": second},
    )
    return f"isbn=in.({first},{second})&order=isbn&select=isbn,details"


AUTHORS = "id=lt.0&order=id.desc&select=id,name,country,bio"


def test_page_downloads_neutralise_text_cells(client, db_connection):
    books_query = _formula_rows(db_connection)
    authors = client.get(f"/browse/public/authors/export.csv?{AUTHORS}", buffered=True)
    assert _cells(authors.get_data(as_text=True)) == [
        ["id", "name", "country", "bio"],
        ["-5", "'=cmd|' /C calc'!A0", "'+1", "'@SUM(A1)"],
        ["-6", "'-2", "'\tx", "fine"],
    ]
    books = client.get(f"/browse/public/books/export.csv?{books_query}", buffered=True)
    assert [row[1] for row in _cells(books.get_data(as_text=True))] == ["details", "-5", "'-5"]


def test_the_apis_csv_is_postgrests_unless_asked(client, db_connection):
    books_query = _formula_rows(db_connection)
    response = client.get(f"/api/authors?{AUTHORS}", headers={"Accept": "text/csv"})
    assert _cells(response.get_data(as_text=True))[1:] == [
        ["-5", "=cmd|' /C calc'!A0", "+1", "@SUM(A1)"],
        ["-6", "-2", "\tx", "fine"],
    ]
    books = client.get(f"/api/books?{books_query}", headers={"Accept": "text/csv"})
    assert [row[1] for row in _cells(books.get_data(as_text=True))] == ["details", "-5", "-5"]


def test_csv_safe_cells_makes_the_api_write_what_downloads_write(make_app, isolate):
    app = make_app(CSV_SAFE_CELLS="true")
    books_query = _formula_rows(isolate(app))
    client = app.test_client()
    for name, query in [("authors", AUTHORS), ("books", books_query), ("authors", "id=lt.200")]:
        api = client.get(f"/api/{name}?{query}", headers={"Accept": "text/csv"})
        download = client.get(f"/browse/public/{name}/export.csv?{query}", buffered=True)
        assert download.get_data() == api.get_data()
    api = client.get(f"/api/authors?{AUTHORS}", headers={"Accept": "text/csv"})
    assert _cells(api.get_data(as_text=True))[1] == [
        "-5",
        "'=cmd|' /C calc'!A0",
        "'+1",
        "'@SUM(A1)",
    ]
