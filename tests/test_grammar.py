"""The query-string grammar, parsed without a database."""

import pytest
from werkzeug.datastructures import MultiDict

from webapp.pipeline.grammar import (
    MAX_CONDITIONS,
    MAX_IN_VALUES,
    MAX_TREE_DEPTH,
    Filter,
    GrammarError,
    Logic,
    OrderTerm,
    parse_filter,
    parse_logic,
    parse_order,
)
from webapp.pipeline.reads import Embed, ReadRequest, SelectItem, parse_read, parse_select


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
    assert parse_select("*") == (None, ())
    assert parse_select("id, name:title") == ((SelectItem("id"), SelectItem("title", "name")), ())
    for bad in ("id,,title", ":title", "author(*", "price::", "x:(a)", "books!(a)"):
        with pytest.raises(GrammarError):
            parse_select(bad)


def test_parse_select_with_embeds():
    columns, embeds = parse_select(
        "title,writer:authors(name),copies!copies_book_id_fkey(copy_no,branches(*))"
    )
    assert columns == (SelectItem("title"),)
    assert embeds == (
        Embed("authors", "writer", read=ReadRequest(select=(SelectItem("name"),))),
        Embed(
            "copies",
            hint="copies_book_id_fkey",
            read=ReadRequest(select=(SelectItem("copy_no"),), embeds=(Embed("branches"),)),
        ),
    )


def test_embedded_parameters_go_to_their_embed():
    read = parse_read(
        MultiDict(
            [
                ("select", "*,copies(*,branches(name))"),
                ("copies.order", "copy_no.desc"),
                ("copies.limit", "2"),
                ("copies.condition", "eq.new"),
                ("copies.branches.name", "neq.Central"),
                ("copies.not.or", "(copy_no.eq.1,copy_no.eq.2)"),
                ("title", "like.*a*"),
            ]
        )
    )
    assert read.filters == (Filter("title", "like", "*a*"),)
    (copies,) = read.embeds
    assert copies.read.limit == 2 and copies.read.order == (OrderTerm("copy_no", descending=True),)
    assert copies.read.filters[0] == Filter("condition", "eq", "new")
    assert copies.read.filters[1].negated and copies.read.filters[1].op == "or"
    assert copies.read.embeds[0].read.filters == (Filter("name", "neq", "Central"),)


def test_parse_read_collects_filters_and_paging():
    args = MultiDict([("id", "gt.3"), ("id", "lt.9"), ("limit", "5"), ("offset", "10")])
    read = parse_read(args)
    assert read.filters == (Filter("id", "gt", "3"), Filter("id", "lt", "9"))
    assert (read.limit, read.offset) == (5, 10)


@pytest.mark.parametrize(
    "args", [{"limit": "-1"}, {"offset": "abc"}, {"or": "id.eq.1"}, {"and": "(a.eq.1,)"}]
)
def test_parse_read_rejects(args):
    with pytest.raises(GrammarError):
        parse_read(MultiDict(args))


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        (
            "or",
            "(age.lt.18,age.gt.21)",
            Logic("or", (Filter("age", "lt", "18"), Filter("age", "gt", "21"))),
        ),
        (
            "and",
            "(grade.gte.90,student.is.true,or(age.eq.14,age.not.is.null))",
            Logic(
                "and",
                (
                    Filter("grade", "gte", "90"),
                    Filter("student", "is", "true"),
                    Logic("or", (Filter("age", "eq", "14"), Filter("age", "is", "null", True))),
                ),
            ),
        ),
        (
            "not.or",
            '(name.eq."Doe, Jane (Dr)",id.in.(1,2))',
            Logic(
                "or",
                (Filter("name", "eq", "Doe, Jane (Dr)"), Filter("id", "in", ("1", "2"))),
                negated=True,
            ),
        ),
        (
            "or",
            "(a.eq.1,not.and(b.eq.2,c.eq.3))",
            Logic(
                "or",
                (
                    Filter("a", "eq", "1"),
                    Logic("and", (Filter("b", "eq", "2"), Filter("c", "eq", "3")), negated=True),
                ),
            ),
        ),
    ],
)
def test_parse_logic(key, text, expected):
    assert parse_logic(key, text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("(a.eq.1", "in parentheses"),
        ("(a.eq.1))", "unbalanced parentheses"),
        ("(a.eq.1,or(b.eq.2)", "unbalanced parentheses"),
        ('(a.eq."x)', "unbalanced double quote"),
        ("(a.eq.1,,b.eq.2)", "empty condition"),
        ("(justaword)", "column.op.value"),
        ("(a.zz.1)", "unknown operator"),
    ],
)
def test_parse_logic_rejects_malformed(text, fragment):
    with pytest.raises(GrammarError) as info:
        parse_logic("or", text)
    assert fragment in info.value.message


def test_complexity_is_capped():
    deep = "a.eq.1"
    for _ in range(MAX_TREE_DEPTH + 1):
        deep = f"or({deep},b.eq.2)"
    with pytest.raises(GrammarError, match="nest deeper"):
        parse_logic("and", f"({deep})")
    many = ",".join(f"a.eq.{i}" for i in range(MAX_CONDITIONS + 1))
    with pytest.raises(GrammarError, match="more than"):
        parse_read(MultiDict({"or": f"({many})"}))
