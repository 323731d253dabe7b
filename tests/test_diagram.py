"""The schema diagram's layout and SVG, without a database."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa

from db.catalog import Catalog, Relation
from webapp.pages.diagram import (
    MAX_BOXES,
    MAX_PER_COLUMN,
    Box,
    Link,
    layout,
    ranks,
    render_svg,
    schema_drawing,
)

SVG = "{http://www.w3.org/2000/svg}"


def box(name: str, *rows: tuple[str, str]) -> Box:
    return Box(("s", name), name, f"/browse/s/{name}", rows)


def link(source: str, target: str, column: str = "id") -> Link:
    return Link(("s", source), ("s", target), (f"{target}_{column}",), (column,))


def key(name: str) -> tuple[str, str]:
    return ("s", name)


def overlaps(a, b) -> bool:
    return not (
        a.x + a.width <= b.x
        or b.x + b.width <= a.x
        or a.y + a.height <= b.y
        or b.y + b.height <= a.y
    )


def test_referenced_tables_stand_left_of_referencing_ones():
    names = ["loans", "members", "branches", "copies", "books", "authors"]
    links = [
        link("loans", "members"),
        link("loans", "copies"),
        link("members", "branches"),
        link("copies", "books"),
        link("copies", "branches"),
        link("books", "authors"),
    ]
    rank = ranks([key(n) for n in names], links)
    assert rank[key("authors")] == rank[key("branches")] == 0
    assert rank[key("books")] == rank[key("members")] == 1
    assert rank[key("copies")] == 2 and rank[key("loans")] == 3
    diagram = layout([box(n) for n in names], links, "library")
    x = {p.box.title: p.x for p in diagram.boxes}
    for lk in links:
        assert x[lk.source[1]] > x[lk.target[1]]
    assert len(diagram.arrows) == len(links)


@pytest.mark.parametrize(
    "edges",
    [
        [("a", "a")],  # self reference
        [("a", "b"), ("b", "a")],  # two-cycle
        [("a", "b"), ("b", "c"), ("c", "a"), ("c", "c")],  # three-cycle plus a loop
        [("a", "b"), ("b", "c"), ("c", "d"), ("d", "b"), ("e", "a")],  # cycle below a chain
    ],
)
def test_cycles_and_self_references_end(edges):
    names = sorted({n for edge in edges for n in edge})
    links = [link(s, t) for s, t in edges]
    rank = ranks([key(n) for n in names], links)
    assert set(rank) == {key(n) for n in names}
    assert all(0 <= r < len(names) for r in rank.values())
    diagram = layout([box(n, ("id", "PK")) for n in names], links, "cycles")
    assert len(diagram.arrows) == len(edges)
    self_arrows = [a for a in diagram.arrows if a.is_self]
    assert len(self_arrows) == sum(s == t for s, t in edges)


def test_a_long_chain_needs_no_recursion():
    names = [f"t{i:04d}" for i in range(3000)]
    links = [link(a, b) for a, b in itertools.pairwise(names)]
    rank = ranks([key(n) for n in names], links)
    assert rank[key(names[0])] == 2999 and rank[key(names[-1])] == 0


def test_boxes_do_not_overlap_and_fit_the_canvas():
    boxes = [
        box(f"table_{i}" + "x" * (i % 7) * 5, *[(f"c{j}", "FK") for j in range(i % 14)])
        for i in range(60)
    ]
    links = [link(boxes[i].title, boxes[i // 3].title) for i in range(1, 60)]
    diagram = layout(boxes, links, "many")
    for a, b in itertools.combinations(diagram.boxes, 2):
        assert not overlaps(a, b), (a.box.title, b.box.title)
    assert all(
        p.x + p.width <= diagram.width and p.y + p.height <= diagram.height for p in diagram.boxes
    )
    per_column: dict[float, int] = {}
    for p in diagram.boxes:
        per_column[p.x] = per_column.get(p.x, 0) + 1
    assert max(per_column.values()) <= MAX_PER_COLUMN


def test_boxes_grow_with_their_text():
    short, long = layout(
        [box("a"), box("a_rather_long_table_name_indeed", ("id", "PK"))], [], "t"
    ).boxes
    assert long.width > short.width and long.height > short.height


HOSTILE = [
    "<script>alert(1)</script>",
    "a\"b'c&d",
    "]]><x/>",
    "ünïcødé 表格",
    "bell\x07and\x01",
]


def test_hostile_names_are_escaped_and_the_svg_parses():
    boxes = [
        Box(("s", name), name, f"/browse/s/{i}?a=1&b=<2>", ((name, "PK"), ("x", "FK")))
        for i, name in enumerate(HOSTILE)
    ]
    links = [Link(boxes[i].key, boxes[0].key, ("x",), (HOSTILE[0],)) for i in range(len(HOSTILE))]
    svg = str(render_svg(layout(boxes, links, "<b>schema</b> & co")))
    assert "<script" not in svg and "<x/>" not in svg and "<b>" not in svg
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    texts = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    assert {HOSTILE[0], "a\"b'c&d", "]]><x/>", "ünïcødé 表格"} <= texts
    assert "bell\ufffdand\ufffd" in texts  # XML cannot hold control characters
    assert root.find(f"{SVG}title").text == "<b>schema</b> & co"
    hrefs = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert hrefs[0].endswith("?a=1&b=<2>") and len(hrefs) == len(HOSTILE)


def test_each_box_is_a_link_with_a_title():
    diagram = layout(
        [box("authors", ("id", "PK")), box("books", ("id", "PK"), ("author_id", "FK"))],
        [link("books", "authors")],
        "lib",
    )
    root = ET.fromstring(str(render_svg(diagram)))
    anchors = {a.get("href"): a.find(f"{SVG}g/{SVG}title").text for a in root.iter(f"{SVG}a")}
    assert anchors == {"/browse/s/authors": "authors", "/browse/s/books": "books"}
    (path,) = (p for p in root.iter(f"{SVG}path") if p.get("class") == "fk")
    assert "references" in path.find(f"{SVG}title").text


def small_catalog(table_count: int) -> Catalog:
    """A catalog built by hand: tables t0000.. of schema s, each referencing t0000, plus a partition."""
    metadata = sa.MetaData()
    relations = {}
    for i in range(table_count):
        name = f"t{i:04d}"
        table = sa.Table(
            name,
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("first_id", sa.Integer, sa.ForeignKey("s.t0000.id")),
            sa.Column("secret_id", sa.Integer, sa.ForeignKey("s.t0000.id")),
            schema="s",
        )
        relations[("s", name)] = Relation(table, "table", hidden=frozenset({"secret_id"}))
    part = sa.Table("t0000_part", metadata, sa.Column("id", sa.Integer), schema="s")
    relations[("s", "t0000_part")] = Relation(part, "table", is_partition=True)
    return Catalog(("s",), relations, metadata, loaded_at=0.0, load_seconds=0.0)


def test_schema_drawing_caps_boxes_and_leaves_out_hidden_columns_and_partitions():
    catalog = small_catalog(MAX_BOXES + 5)
    drawing = schema_drawing(catalog, "s", lambda schema, name: f"/browse/{schema}/{name}")
    assert len(drawing.boxes) == MAX_BOXES and drawing.omitted == 5
    assert all(box.title != "t0000_part" for box in drawing.boxes)
    assert all("secret_id" not in dict(box.rows) for box in drawing.boxes)
    assert len(drawing.links) == MAX_BOXES  # first_id of every drawn table; never secret_id
    assert dict(drawing.boxes[1].rows) == {"id": "PK", "first_id": "FK"}
    diagram = layout(drawing.boxes, drawing.links, "s", drawing.omitted)
    svg = str(render_svg(diagram))
    assert "5 more not drawn" in svg and "secret_id" not in svg
    ET.fromstring(svg)
