"""The query string of the HTML pages: the API's grammar plus a few page-only parameters.

Filters, `order=` and `select=` (column names only) mean on a page what they mean in the
API, so a page, its JSON twin and its exports show the same rows. Page-only parameters
start with an underscore: `_after`/`_before` (keyset cursors), `_count=exact`,
`_format=json`. The filter builder's fields (`_fc`, `_fo`, `_fv`) and the column picker's
(`_cols`, `_col`) are turned into the grammar by a redirect, so a shared URL is canonical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from db.catalog import Relation

from ..pipeline.grammar import RESERVED, Filter, GrammarError, parse_filter
from ..pipeline.reads import ReadRequest, parse_read

PAGE_PARAMS = frozenset({"_after", "_before", "_count", "_format"})
FORM_FIELDS = frozenset({"_fc", "_fo", "_fv", "_cols", "_col"})
PAGE_SIZES = (20, 50, 100, 200, 500)
# Types PostgreSQL has no default sort order for: ORDER BY on them is an error.
_UNSORTABLE = frozenset(
    {"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"}
)
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class BuilderOp:
    """One operator of the filter builder and the grammar it writes."""

    key: str
    label: str
    grammar: Callable[[str], str]
    needs_value: bool = True


def _in_list(text: str) -> str:
    """`a, b, c` as an in-list, each value quoted so commas and parentheses stay values."""
    values = [part.strip() for part in text.split(",") if part.strip()]
    quoted = ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]
    return "(" + ",".join(quoted) + ")"


BUILDER_OPS = (
    BuilderOp("eq", "=", lambda v: f"eq.{v}"),
    BuilderOp("neq", "≠", lambda v: f"neq.{v}"),
    BuilderOp("gt", ">", lambda v: f"gt.{v}"),
    BuilderOp("gte", "≥", lambda v: f"gte.{v}"),
    BuilderOp("lt", "<", lambda v: f"lt.{v}"),
    BuilderOp("lte", "≤", lambda v: f"lte.{v}"),
    BuilderOp("contains", "contains", lambda v: f"ilike.*{v}*"),
    BuilderOp("excludes", "does not contain", lambda v: f"not.ilike.*{v}*"),
    BuilderOp("starts", "starts with", lambda v: f"ilike.{v}*"),
    BuilderOp("like", "like (* any text)", lambda v: f"like.{v}"),
    BuilderOp("in", "in (comma-separated)", lambda v: f"in.{_in_list(v)}"),
    BuilderOp("notin", "not in", lambda v: f"not.in.{_in_list(v)}"),
    BuilderOp("null", "is null", lambda v: "is.null", needs_value=False),
    BuilderOp("notnull", "is not null", lambda v: "not.is.null", needs_value=False),
)
_OPS = {op.key: op for op in BUILDER_OPS}


@dataclass(frozen=True)
class Browse:
    """What a page request asks for: the API read (filters, columns, order) and paging."""

    read: ReadRequest
    size: int
    offset: int = 0
    after: str | None = None
    before: str | None = None
    exact_count: bool = False

    @property
    def filtered(self) -> bool:
        """True when any filter narrows the rows."""
        return bool(self.read.filters)


def api_pairs(args: MultiDict) -> list[tuple[str, str]]:
    """The query string without page-only parameters and form fields: the API's part."""
    return [
        (key, value)
        for key, value in args.items(multi=True)
        if key not in PAGE_PARAMS and key not in FORM_FIELDS
    ]


def parse_browse(relation: Relation, args: MultiDict, max_size: int) -> Browse:
    """Parse a page's query string; names are checked against the relation (404/400 if unknown)."""
    read = parse_read(MultiDict(api_pairs(args)))
    _check_page_read(relation, read)
    after, before = _cursors(args, read)
    return Browse(
        read=read,
        size=min(read.limit or DEFAULT_PAGE_SIZE, max_size),
        offset=read.offset,
        after=after,
        before=before,
        exact_count=args.get("_count") == "exact",
    )


def _check_page_read(relation: Relation, read: ReadRequest) -> None:
    """A 400 (or 404) for what a page cannot show: embeds, renames, unknown or unsortable columns."""
    plain = all(not term.path for term in read.order)
    if read.embeds or not plain or any(i.alias or i.path or i.cast for i in read.select or ()):
        raise GrammarError(
            "pages take plain column names in select= and order=: no renames, JSON paths,"
            " casts or embedded relations",
            hint="the API at /api/ embeds related rows",
        )
    for name in [item.column for item in read.select or ()] + [t.column for t in read.order]:
        relation.column(name)
    for term in read.order:
        if not sortable(relation, term.column):
            kind = relation.type_names.get(term.column)
            raise GrammarError(f"{term.column} ({kind}) has no sort order in PostgreSQL")


def _cursors(args: MultiDict, read: ReadRequest) -> tuple[str | None, str | None]:
    """The page's `_after=` and `_before=` cursors (at most one, and never with an offset)."""
    after, before = args.get("_after"), args.get("_before")
    if after and before:
        raise GrammarError("_after= and _before= do not go together")
    if (after or before) and read.offset:
        raise GrammarError("a cursor (_after=, _before=) does not go with offset=")
    return after or None, before or None


def canonical_query(args: MultiDict, columns: list[str]) -> list[tuple[str, str]] | None:
    """The canonical query pairs for a submitted filter builder or column picker, else None."""
    if "_fc" not in args and "_cols" not in args:
        return None
    pairs = [
        (key, value)
        for key, value in api_pairs(args)
        if key not in ("offset",) and not (key == "select" and "_cols" in args)
    ]
    if "_fc" in args:
        rows = zip(args.getlist("_fc"), args.getlist("_fo"), args.getlist("_fv"), strict=False)
        pairs += builder_pairs(rows, columns)
    if "_cols" in args:
        chosen = [name for name in columns if name in set(args.getlist("_col"))]
        if chosen and len(chosen) < len(columns):
            pairs.append(("select", ",".join(chosen)))
    return pairs


def builder_pairs(
    rows: Iterable[tuple[str, str, str]], columns: list[str]
) -> list[tuple[str, str]]:
    """The builder's rows (column, operator, value) as `col=op.value` pairs; blank rows dropped."""
    pairs = []
    for column, op_key, value in rows:
        op = _OPS.get(op_key)
        if column not in columns or op is None or (op.needs_value and value == ""):
            continue
        pairs.append((column, op.grammar(value)))
    return pairs


@dataclass(frozen=True)
class BuilderRow:
    """A simple filter as the builder shows it: column, operator key and value."""

    column: str
    op: str
    value: str


def builder_row(key: str, text: str) -> BuilderRow | None:
    """A `key=text` filter as a builder row, or None when the builder cannot show it."""
    if key in ("or", "and", "not.or", "not.and") or key in PAGE_PARAMS or key in FORM_FIELDS:
        return None
    if key in RESERVED:
        return None
    try:
        flt = parse_filter(key, text)
    except GrammarError:
        return None
    return _row_for(flt)


def _row_for(flt: Filter) -> BuilderRow | None:
    """The builder row that writes exactly this filter back, if there is one."""
    if flt.path or flt.quantifier or flt.language:
        return None
    if flt.op == "in":
        return _in_row(flt)
    if flt.op == "is" and flt.value == "null":
        return BuilderRow(flt.column, "notnull" if flt.negated else "null", "")
    if flt.op == "ilike":
        return _ilike_row(flt)
    if flt.negated or flt.op not in _OPS:
        return None
    return BuilderRow(flt.column, flt.op, flt.value)


def _in_row(flt: Filter) -> BuilderRow | None:
    """An in-list as the builder's comma-separated row (not when a value holds a comma)."""
    if any("," in v for v in flt.value):
        return None
    return BuilderRow(flt.column, "notin" if flt.negated else "in", ", ".join(flt.value))


def _ilike_row(flt: Filter) -> BuilderRow | None:
    """`ilike.*text*` as contains (or excludes), `ilike.text*` as starts with."""
    value = flt.value
    if len(value) > 2 and value[0] == value[-1] == "*" and "*" not in value[1:-1]:
        return BuilderRow(flt.column, "excludes" if flt.negated else "contains", value[1:-1])
    if flt.negated:
        return None
    if value.endswith("*") and "*" not in value[:-1]:
        return BuilderRow(flt.column, "starts", value[:-1])
    return None


def sortable(relation: Relation, column: str) -> bool:
    """True when PostgreSQL can ORDER BY the column (json and geometric types it cannot)."""
    return relation.type_names.get(column, "").removesuffix("[]") not in _UNSORTABLE
