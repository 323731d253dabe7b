"""webapp/app/urls.py: every link's values read back, through the grammar, as the same values."""

import datetime as dt
import uuid
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa
from flask import request
from werkzeug.datastructures import MultiDict

from webapp.app.urls import api_row_url, filtered_url, query_value, row_url, url_with
from webapp.pipeline.coercion import coerce_value
from webapp.pipeline.grammar import parse_filter
from webapp.state import current_catalog


@pytest.mark.parametrize(
    "column, value",
    [
        (sa.Column("t", sa.Text), "A & B / C? #1 + 100% ü"),
        (sa.Column("b", sa.Boolean), True),
        (sa.Column("b", sa.Boolean), False),
        (sa.Column("d", sa.Date), dt.date(2024, 2, 29)),
        (sa.Column("ts", sa.DateTime(timezone=True)), dt.datetime(2024, 1, 2, 3, 4, 5, 6, dt.UTC)),
        (sa.Column("n", sa.Numeric), Decimal("12.50")),
        (sa.Column("u", sa.Uuid), uuid.UUID("6b1f7c3e-0f52-4c38-9d1e-2a2f1d1e9a10")),
        (sa.Column("i", sa.BigInteger), -9007199254740993),
    ],
)
def test_a_filtered_link_reads_back_the_same_value(app, column, value):
    with app.test_request_context("/"):
        books = current_catalog().relation("books", "public")
        url = filtered_url(books, (column.name,), (value,))
    [(name, text)] = parse_qsl(urlsplit(url).query)
    found = parse_filter(name, text)
    assert (found.column, found.op) == (column.name, "eq")
    bound = coerce_value(column, found.value)
    assert getattr(bound, "value", bound) == value  # text is bound untyped, as the text
    assert query_value(value) == found.value


def test_row_page_and_api_links_carry_every_key_column(app):
    with app.test_request_context("/"):
        copies = current_catalog().relation("copies", "public")
        key = {name: f"{name} value" for name in copies.primary_key}
        page, api = row_url(copies, key), api_row_url(copies, key)
    assert urlsplit(page).path == "/browse/public/copies/row"
    assert dict(parse_qsl(urlsplit(page).query)) == key
    assert urlsplit(api).path == "/api/copies"
    assert dict(parse_qsl(urlsplit(api).query)) == {k: "eq." + v for k, v in key.items()}


def test_url_with_drops_replaces_and_adds_keys_in_order(app):
    with app.test_request_context("/browse/public/books?a=1&b=2&a=3&offset=40"):
        url = url_with("/x", request.args, ("offset",), b="new", c=None, d=5)
    assert url == "/x?a=1&a=3&b=new&d=5"
    assert url_with("/x", MultiDict()) == "/x"  # no pairs: no "?"
