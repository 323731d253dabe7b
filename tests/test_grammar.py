"""The query-string grammar, parsed without a database."""

import pytest
from werkzeug.datastructures import MultiDict

from webapp.grammar import (
    MAX_IN_VALUES,
    Filter,
    GrammarError,
    OrderTerm,
    parse_filter,
    parse_order,
    parse_read,
    parse_select,
)


@pytest.mark.parametrize(
    ("column", "text", "expected"),
    [
        ("id", "eq.5", Filter("id", "eq", "5")),
        ("id", "neq.5", Filter("id", "neq", "5")),
        ("price", "gte.10.50", Filter("price", "gte", "10.50")),
        ("title", "like.*War*", Filter("title", "like", "*War*")),
        ("title", "not.ilike.*peace*", Filter("title", "ilike", "*peace*", negated=True)),
        ("returned_at", "is.null", Filter("returned_at", "is", "null")),
        ("active", "is.TRUE", Filter("active", "is", "true")),
        ("id", "in.(1,2,3)", Filter("id", "in", ("1", "2", "3"))),
        ("name", 'in.("a,b",c)', Filter("name", "in", ("a,b", "c"))),
        ("name", 'in.("say \\"hi\\"")', Filter("name", "in", ('say "hi"',))),
        ("name", "in.()", Filter("name", "in", ())),
        ("title", "eq.50% off 'quoted'", Filter("title", "eq", "50% off 'quoted'")),
        ("title", "eq.Ünïcødé ✓", Filter("title", "eq", "Ünïcødé ✓")),
        ("title", "eq.", Filter("title", "eq", "")),
    ],
)
def test_parse_filter(column, text, expected):
    assert parse_filter(column, text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("equals.5", "unknown operator 'equals'"),
        ("eq", "has no value"),
        ("not.eq", "has no value"),
        ("is.maybe", "'is' takes null"),
        ("in.1,2", "must be in parentheses"),
        ('in.("a,b)', "unbalanced double quote"),
        ("in.(1,2", "must be in parentheses"),
    ],
)
def test_parse_filter_rejects_malformed(text, fragment):
    with pytest.raises(GrammarError) as info:
        parse_filter("col", text)
    assert fragment in info.value.message


def test_huge_in_list_is_refused():
    values = ",".join(str(i) for i in range(MAX_IN_VALUES + 1))
    with pytest.raises(GrammarError, match="at most"):
        parse_filter("id", f"in.({values})")


def test_parse_order():
    assert parse_order("published_on.desc.nullslast,title") == (
        OrderTerm("published_on", descending=True, nulls="last"),
        OrderTerm("title"),
    )
    with pytest.raises(GrammarError, match="unknown order modifier 'sideways'"):
        parse_order("title.sideways")


def test_parse_select():
    assert parse_select("*") is None
    assert parse_select("id, title") == ("id", "title")
    with pytest.raises(GrammarError):
        parse_select("id,,title")


def test_parse_read_collects_filters_and_paging():
    args = MultiDict([("id", "gt.3"), ("id", "lt.9"), ("limit", "5"), ("offset", "10")])
    read = parse_read(args)
    assert read.filters == (Filter("id", "gt", "3"), Filter("id", "lt", "9"))
    assert (read.limit, read.offset) == (5, 10)


@pytest.mark.parametrize("args", [{"limit": "-1"}, {"offset": "abc"}, {"or": "(id.eq.1)"}])
def test_parse_read_rejects(args):
    with pytest.raises(GrammarError):
        parse_read(MultiDict(args))
