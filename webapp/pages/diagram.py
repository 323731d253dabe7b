"""The schema diagram: tables as boxes, foreign keys as arrows, drawn as SVG on the server.

Layout is layered by foreign-key depth: a table that references nothing is in the leftmost
layer, every other one sits one layer right of the deepest table it references (self
references ignored, cycles broken where the walk finds them). Box sizes come from the text
length, so no font metrics are needed. Foreign keys to served tables of another schema end
at a small dashed box labelled schema.name; keys from other schemas into this one are left
out (they show on the other schema's diagram and on each table's structure page).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from db.catalog import Catalog, Relation
from db.relationships import relationships

MAX_BOXES = 200  # beyond this a diagram stops being readable; the page says how many were left out
MAX_ROWS = 10  # key columns listed per box before "… n more"
MAX_PER_COLUMN = 12  # boxes stacked in one column before a layer wraps into the next

CHAR_WIDTH = 7.3  # 12px sans-serif, an average glyph
TITLE_CHAR_WIDTH = 8.8  # 13px bold
HEADER_HEIGHT = 24.0
ROW_HEIGHT = 17.0
PADDING = 8.0
MIN_WIDTH = 96.0
GAP_X = 72.0
GAP_Y = 22.0
MARGIN = 36.0  # room above and right for self-reference loops and same-layer arcs

Key = tuple[str, str]  # (schema, name)

# Characters XML 1.0 cannot carry even as references (PostgreSQL names may hold them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class Box:
    """A table to draw: its title, the key columns to list (name, mark) and its link."""

    key: Key
    title: str
    href: str | None
    rows: tuple[tuple[str, str], ...] = ()
    external: bool = False


@dataclass(frozen=True)
class Link:
    """A foreign key from one box's columns to another's."""

    source: Key
    target: Key
    source_columns: tuple[str, ...]
    target_columns: tuple[str, ...]


@dataclass(frozen=True)
class Placed:
    """A box with its layer and position."""

    box: Box
    rank: int
    x: float
    y: float
    width: float
    height: float

    def row_y(self, column: str) -> float | None:
        """The vertical middle of a listed column's row, None when it is not listed."""
        for index, (name, _) in enumerate(self.box.rows[:MAX_ROWS]):
            if name == column:
                return self.y + HEADER_HEIGHT + PADDING / 2 + (index + 0.5) * ROW_HEIGHT
        return None


@dataclass(frozen=True)
class Arrow:
    """A foreign key drawn: the SVG path data and a sentence saying what it links."""

    link: Link
    d: str
    label: str
    is_self: bool


@dataclass(frozen=True)
class Diagram:
    """Everything the SVG template needs."""

    title: str
    boxes: tuple[Placed, ...]
    arrows: tuple[Arrow, ...]
    width: float
    height: float
    omitted: int = 0


@dataclass(frozen=True)
class Drawing:
    """What a schema contributes to its diagram, before layout."""

    boxes: tuple[Box, ...]
    links: tuple[Link, ...]
    omitted: int


def xml_text(text: str) -> str:
    """text with the characters XML cannot hold replaced by U+FFFD (escaping happens later)."""
    return _NOT_XML.sub("\ufffd", text)


def text_width(text: str, char_width: float = CHAR_WIDTH) -> float:
    """Approximate drawn width of text: capitals and symbols wide, East Asian wide double."""
    return char_width * sum(_glyph_width(ch) for ch in text)


def _glyph_width(ch: str) -> float:
    """A character's width relative to an average lower-case letter."""
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2.0
    if ch.isupper() or ch in "%#&@mwMW":
        return 1.35
    if ch in "iljtfr.,:;'|!() ":
        return 0.7
    return 1.0


def ranks(keys: Iterable[Key], links: Iterable[Link]) -> dict[Key, int]:
    """Each key's layer: 0 when it references nothing, else 1 + the deepest layer it references."""
    keys = list(keys)
    known = set(keys)
    refs: dict[Key, list[Key]] = {key: [] for key in keys}
    for link in links:
        if link.source in known and link.target in known and link.source != link.target:
            refs[link.source].append(link.target)
    rank: dict[Key, int] = {}
    for start in keys:
        if start in rank:
            continue
        on_path = {start}
        stack = [(start, iter(sorted(set(refs[start]))))]
        while stack:  # depth-first without recursion; an edge back onto the path is dropped
            node, pending = stack[-1]
            child = next((c for c in pending if c not in rank and c not in on_path), None)
            if child is not None:
                on_path.add(child)
                stack.append((child, iter(sorted(set(refs[child])))))
                continue
            rank[node] = 1 + max((rank[c] for c in refs[node] if c in rank), default=-1)
            on_path.discard(node)
            stack.pop()
    return rank


def box_size(box: Box) -> tuple[float, float]:
    """Width and height of a box from its title and listed rows."""
    lines = [_row_text(name, mark) for name, mark in box.rows[:MAX_ROWS]]
    if len(box.rows) > MAX_ROWS:
        lines.append(_more_text(box))
    width = max([text_width(box.title, TITLE_CHAR_WIDTH)] + [text_width(line) for line in lines])
    height = HEADER_HEIGHT + (PADDING + ROW_HEIGHT * len(lines) if lines else 0)
    return max(MIN_WIDTH, width + 2 * PADDING), height


def _row_text(name: str, mark: str) -> str:
    """A listed column as drawn: its mark, then its name."""
    return f"{mark} {name}" if mark else name


def _more_text(box: Box) -> str:
    """The last line of a box whose rows were cut."""
    return f"… {len(box.rows) - MAX_ROWS} more"


def _ordered_layers(boxes: list[Box], links: list[Link]) -> list[list[Box]]:
    """Boxes grouped by layer; within a layer, near the tables they reference (then by title)."""
    rank = ranks([box.key for box in boxes], links)
    layers: list[list[Box]] = [[] for _ in range(max(rank.values(), default=-1) + 1)]
    for box in boxes:
        layers[rank[box.key]].append(box)
    position: dict[Key, int] = {}
    for layer in layers:
        layer.sort(key=lambda box: (_mean_target_position(box, links, position), box.title))
        position.update({box.key: index for index, box in enumerate(layer)})
    return layers


def _mean_target_position(box: Box, links: list[Link], position: dict[Key, int]) -> float:
    """Where, on average, the tables this box references stand in their layers (0 if none)."""
    found = [position[lk.target] for lk in links if lk.source == box.key and lk.target in position]
    return sum(found) / len(found) if found else 0.0


def layout(boxes: Iterable[Box], links: Iterable[Link], title: str, omitted: int = 0) -> Diagram:
    """Place boxes in layers (referenced left of referencing) and route the foreign keys."""
    boxes, links = list(boxes), list(links)
    keys = {box.key for box in boxes}
    links = [link for link in links if link.source in keys and link.target in keys]
    placed: list[Placed] = []
    x = MARGIN
    for rank, layer in enumerate(_ordered_layers(boxes, links)):
        for start in range(0, len(layer), MAX_PER_COLUMN):
            column = [(box, *box_size(box)) for box in layer[start : start + MAX_PER_COLUMN]]
            y = MARGIN
            for box, width, height in column:
                placed.append(Placed(box, rank, x, y, width, height))
                y += height + GAP_Y
            x += max(width for _, width, _ in column) + GAP_X
    by_key = {p.box.key: p for p in placed}
    arrows = tuple(_arrow(link, by_key[link.source], by_key[link.target]) for link in links)
    width = max((p.x + p.width for p in placed), default=0) + 2 * MARGIN
    height = max((p.y + p.height for p in placed), default=0) + MARGIN
    return Diagram(title, tuple(placed), arrows, round(width, 1), round(height, 1), omitted)


def _arrow(link: Link, source: Placed, target: Placed) -> Arrow:
    """The path of one foreign key: from the referencing column's row to the referenced one."""
    sy = source.row_y(link.source_columns[0]) or source.y + HEADER_HEIGHT / 2
    ty = target.row_y(link.target_columns[0]) or target.y + HEADER_HEIGHT / 2
    if source is target:
        right, top = source.x + source.width, source.y
        d = f"M{right - 28:.1f} {top:.1f} C{right - 28:.1f} {top - 30:.1f} {right + 30:.1f} {top + 12:.1f} {right:.1f} {top + 12:.1f}"
    elif source.x > target.x + target.width:  # the usual case: referencing box to the right
        d = _curve(source.x, sy, target.x + target.width, ty)
    elif target.x > source.x + source.width:  # a cycle broken the other way round
        d = _curve(source.x + source.width, sy, target.x, ty)
    else:  # same column: an arc out to the right and back
        sx, tx = source.x + source.width, target.x + target.width
        bulge = max(sx, tx) + 24 + min(abs(sy - ty) / 6, 40)
        d = f"M{sx:.1f} {sy:.1f} C{bulge:.1f} {sy:.1f} {bulge:.1f} {ty:.1f} {tx:.1f} {ty:.1f}"
    label = (
        f"{source.box.title} ({', '.join(link.source_columns)}) references "
        f"{target.box.title} ({', '.join(link.target_columns)})"
    )
    return Arrow(link, d, label, source is target)


def _curve(x1: float, y1: float, x2: float, y2: float) -> str:
    """A horizontal S-curve from (x1, y1) to (x2, y2)."""
    bend = max(24.0, abs(x2 - x1) / 2)
    c1 = x1 - bend if x2 < x1 else x1 + bend
    c2 = x2 + bend if x2 < x1 else x2 - bend
    return f"M{x1:.1f} {y1:.1f} C{c1:.1f} {y1:.1f} {c2:.1f} {y2:.1f} {x2:.1f} {y2:.1f}"


@cache
def _templates() -> jinja2.Environment:
    """The SVG template's environment: autoescaping on, as the output is XML."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent.parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_svg(diagram: Diagram) -> Markup:
    """The diagram as an <svg> element, every name escaped, ready to inline or serve."""
    template = _templates().get_template("diagram.svg")
    return Markup(
        template.render(
            d=diagram,
            xml_text=xml_text,
            more_text=_more_text,
            max_rows=MAX_ROWS,
            header_height=HEADER_HEIGHT,
            row_height=ROW_HEIGHT,
            padding=PADDING,
        )
    )


def schema_drawing(catalog: Catalog, schema: str, href: Callable[[str, str], str]) -> Drawing:
    """The boxes and links of one schema's diagram (partitions left out, at most MAX_BOXES)."""
    candidates = [rel for rel in catalog.in_schema(schema) if not rel.is_partition]
    drawn = candidates[:MAX_BOXES]
    keys = {(rel.schema, rel.name) for rel in drawn}
    links = [
        link
        for rel in drawn
        for link in _links_of(catalog, rel)
        if link.target in keys or link.target[0] != schema
    ]
    external = {
        link.target: Box(link.target, ".".join(link.target), href(*link.target), external=True)
        for link in links
        if link.target[0] != schema
    }
    boxes = [_box(rel, links, href) for rel in drawn]
    boxes += sorted(external.values(), key=lambda box: box.title)
    return Drawing(tuple(boxes), tuple(links), len(candidates) - len(drawn))


def _links_of(catalog: Catalog, relation: Relation) -> list[Link]:
    """The relation's foreign keys to served relations, over served columns on both ends."""
    links = [
        Link(rel.source, rel.target, rel.source_columns, rel.target_columns)
        for rel in relationships(catalog).foreign_keys(relation)
    ]
    return sorted(links, key=lambda link: (link.target, link.source_columns))


def _box(relation: Relation, links: list[Link], href: Callable[[str, str], str]) -> Box:
    """A relation's box: its primary key and foreign key columns, in table order, marked."""
    key = (relation.schema, relation.name)
    fk_columns = {name for link in links if link.source == key for name in link.source_columns}
    rows = []
    for column in relation.columns:
        marks = [
            m
            for m, keyed in (
                ("PK", column.name in relation.primary_key),
                ("FK", column.name in fk_columns),
            )
            if keyed
        ]
        if marks:
            rows.append((column.name, " ".join(marks)))
    return Box(key, relation.name, href(*key), tuple(rows))
