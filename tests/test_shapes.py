"""A schema the code was not written against (tests/shapes): reflection, the API and every page.

tests/shapes holds two schemas, `warehouse` and `"Ops Data"`, with text, composite,
uuid and missing keys, composite and cross-schema foreign keys, spaced mixed-case
names, most column types and hostile values. The crawl follows every link the HTML
pages generate, so pages added later are covered without new tests.
"""

from __future__ import annotations

import base64
from collections import Counter, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pprint import pformat
from urllib.parse import parse_qsl, quote, unquote, urldefrag, urljoin, urlsplit

import pytest
import sqlalchemy as sa
from markupsafe import escape

SCHEMAS = ("warehouse", "Ops Data")

# Keys from tests/shapes/002_shapes_data.sql.
HOSTILE_SKU = "AB/12 ?size=L&colour=red#2 + 50%, final"
RTL_SKU = "שלום-👩‍💻"
ODD_SKUS = [HOSTILE_SKU, RTL_SKU, "  padded sku  ", "not.eq.null", "XSS-1", "TMPL-1"]

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
TEMPLATE_NAME = "tmpl:{{ 7*7 }}:{% raw %}x{% endraw %}:end"

# What must never appear in HTML as is (checked case-insensitively).
RAW_FORBIDDEN = ("<script>alert(1)</script>", "<img src=x onerror", "tmpl:49:")

EXPECTED_RELATIONS = {
    ("warehouse", "categories"): "table",
    ("warehouse", "sites"): "table",
    ("warehouse", "products"): "table",
    ("warehouse", "stock_levels"): "table",
    ("warehouse", "bins"): "table",
    ("warehouse", "price_history"): "table",
    ("warehouse", "Stock Moves"): "table",
    ("warehouse", "Q&A #1? 50%"): "table",
    ("warehouse", "stock_overview"): "view",
    ("warehouse", "notes"): "table",
    ("warehouse", "site_notes"): "table",
    ("warehouse", "urgent_notes"): "table",
    ("Ops Data", "scanners"): "table",
    ("Ops Data", "scans"): "table",
    ("Ops Data", "cycle_counts"): "table",
    ("Ops Data", "Audit Trail"): "table",
    ("Ops Data", "Scans per Site"): "view",
    ("Ops Data", "Daily Moves"): "materialized view",
    ("Ops Data", "Pending Restock"): "materialized view",  # WITH NO DATA: never refreshed
}
UNPOPULATED = {("Ops Data", "Pending Restock")}


@pytest.fixture(scope="module")
def shapes_engine(shapes_database_url):
    """A plain engine on the shapes database, for checks outside the app."""
    engine = sa.create_engine(shapes_database_url)
    yield engine
    engine.dispose()


def _catalog(shapes_app):
    return shapes_app.extensions["pgfront"].catalogs.current


def _api_get(client, schema: str, name: str, query: str = "", **headers):
    """GET /api/<name> in schema (by Accept-Profile unless it is the default)."""
    if schema != SCHEMAS[0]:
        headers["Accept-Profile"] = schema
    path = f"/api/{quote(name, safe='')}" + (f"?{query}" if query else "")
    return client.get(path, headers=headers)


def _browse_url(schema: str, name: str) -> str:
    return f"/browse/{quote(schema, safe='')}/{quote(name, safe='')}"


# ---------------------------------------------------------------------------
# Reflection
# ---------------------------------------------------------------------------


def test_catalog_reflects_every_relation_of_both_schemas(shapes_app, shapes_engine):
    with shapes_engine.connect() as conn:
        in_pg_class = {
            (row.nspname, row.relname)
            for row in conn.execute(
                sa.text(
                    "SELECT n.nspname, c.relname FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = ANY(:s) AND c.relkind IN ('r','p','v','m','f')"
                ),
                {"s": list(SCHEMAS)},
            )
        }
    catalog = _catalog(shapes_app)
    assert catalog.schemas == SCHEMAS
    assert set(catalog.relations) == in_pg_class == set(EXPECTED_RELATIONS)
    assert {key: rel.kind for key, rel in catalog.relations.items()} == EXPECTED_RELATIONS
    moves = catalog.relation("Stock Moves", "warehouse")
    assert {"Qty", "note (free text)"} <= {column.name for column in moves.columns}


@pytest.mark.parametrize(
    ("schema", "name", "key"),
    [
        ("warehouse", "products", ("sku",)),
        ("warehouse", "stock_levels", ("sku", "site_code")),
        ("warehouse", "bins", ("site_code", "aisle", "level")),
        ("warehouse", "price_history", ()),
        ("warehouse", "Stock Moves", ("id",)),
        ("Ops Data", "scanners", ("id",)),
        ("Ops Data", "Audit Trail", ()),
        ("Ops Data", "Daily Moves", ()),
    ],
)
def test_primary_keys_of_odd_shapes(shapes_app, schema, name, key):
    assert _catalog(shapes_app).relation(name, schema).primary_key == key


def _pg_foreign_keys(engine) -> set[tuple]:
    """(schema, table, columns, target schema, target table, target columns) from pg_constraint."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT n.nspname, c.relname, tn.nspname AS tschema, t.relname AS ttable,"
                " array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, i)"
                "       JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n"
                "       ORDER BY u.i) AS cols,"
                " array(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(n, i)"
                "       JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n"
                "       ORDER BY u.i) AS tcols"
                " FROM pg_constraint k"
                " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                " JOIN pg_class t ON t.oid = k.confrelid"
                " JOIN pg_namespace tn ON tn.oid = t.relnamespace"
                " WHERE k.contype = 'f' AND n.nspname = ANY(:s)"
            ),
            {"s": list(SCHEMAS)},
        )
        return {
            (r.nspname, r.relname, tuple(r.cols), r.tschema, r.ttable, tuple(r.tcols)) for r in rows
        }


def test_foreign_keys_match_pg_constraint(shapes_app, shapes_engine):
    reflected = set()
    for (schema, name), relation in _catalog(shapes_app).relations.items():
        for fk in relation.table.foreign_key_constraints:
            target = fk.referred_table
            reflected.add(
                (
                    schema,
                    name,
                    tuple(fk.column_keys),
                    target.schema,
                    target.name,
                    tuple(element.column.name for element in fk.elements),
                )
            )
    assert reflected == _pg_foreign_keys(shapes_engine)
    # The shapes this schema exists for:
    assert ("warehouse", "bins", ("sku", "site_code"), "warehouse", "stock_levels",
            ("sku", "site_code")) in reflected  # fmt: skip
    assert ("Ops Data", "scans", ("barcode",), "warehouse", "products", ("barcode",)) in reflected
    to_sites = [
        fk for fk in reflected if fk[:2] == ("warehouse", "Stock Moves") and fk[4] == "sites"
    ]
    assert sorted(fk[2] for fk in to_sites) == [("from_site",), ("to_site",)]


def test_domain_and_enum_keep_their_names(shapes_app):
    products = _catalog(shapes_app).relation("products", "warehouse")
    assert products.type_names["currency"] == "warehouse.currency_code"
    assert _catalog(shapes_app).relation("Stock Moves", "warehouse").type_names["kind"] == (
        "warehouse.move_kind"
    )


# ---------------------------------------------------------------------------
# The JSON API
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("schema", "name"), sorted(EXPECTED_RELATIONS.keys() - UNPOPULATED))
def test_api_reads_every_relation(shapes_app, shapes_client, schema, name):
    response = _api_get(shapes_client, schema, name)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    rows = response.get_json()
    assert rows, f"no rows from {schema}.{name}"
    columns = [c.name for c in _catalog(shapes_app).relation(name, schema).columns]
    assert list(rows[0]) == columns


def _one(client, schema, name, query):
    response = _api_get(client, schema, name, query)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    rows = response.get_json()
    assert len(rows) == 1, rows
    return rows[0]


def test_api_encodes_every_odd_type(shapes_client, shapes_engine):
    product = _one(shapes_client, "warehouse", "products", "sku=eq." + quote(HOSTILE_SKU, safe=""))
    with shapes_engine.connect() as conn:
        image = conn.execute(
            sa.text("SELECT image FROM warehouse.products WHERE sku = :s"), {"s": HOSTILE_SKU}
        ).scalar()
    assert len(image) == 4096 and base64.b64decode(product["image"]) == image
    assert product["bin_counts"] == [1, None, 3]
    assert product["tags"] == ["a,b", "c d", "{braces}"]
    assert product["attributes"] == {"path": "/a/b?c=d&e=f#g", "percent": "100%"}
    assert product["raw_feed"] == [1, "two", {"three": 3}]
    assert product["price"] == 0.0001
    assert product["currency"] == "GBP"
    assert product["shelf_life"] == "P1Y2M3DT4H5M6.789S"  # exact: years and months kept
    assert product["available_on"] == "2024-02-29"
    assert product["created_at"] == "2024-01-06T10:00:00+00:00"
    assert "'awkward'" in product["search"] and "'key'" in product["search"]

    big = _one(shapes_client, "warehouse", "products", "sku=eq.JSON-1")
    assert big["attributes"]["big"] == 123456789012345678901234567890
    assert big["attributes"]["html"] == "</script><script>alert(1)</script>"
    assert big["attributes"]["nested"]["deeper"] == {"x": {"y": {"z": [[]]}}}
    assert _one(shapes_client, "warehouse", "products", "sku=eq.DISC-1")["bin_counts"] == [
        [1, 2],
        [3, 4],
    ]

    site = _one(shapes_client, "warehouse", "sites", "code=eq.BER%202")
    assert site["gateway"] == "192.168.0.1/24" and site["network"] == "192.168.0.0/24"
    assert site["country"] == "DEU" and site["closes"] == "19:30:15"
    assert "13.4" in site["location"] and "52.52" in site["location"]
    scanner = _one(shapes_client, "Ops Data", "scanners", "mac=eq.08:00:2b:01:02:04")
    assert scanner["id"] == "00000000-0000-4000-8000-000000000002"
    assert scanner["ip"] == "2001:db8::17"
    assert scanner["firmware"] == SCRIPT
    audit = _api_get(shapes_client, "Ops Data", "Audit Trail", "Who=eq.dba").get_json()
    assert len(audit) == 2  # the duplicate row of a keyless table is not folded


@pytest.mark.parametrize("sku", ODD_SKUS)
def test_api_filters_on_odd_text_keys(shapes_client, sku):
    assert (
        _one(shapes_client, "warehouse", "products", "sku=eq." + quote(sku, safe=""))["sku"] == sku
    )
    moves = _api_get(
        shapes_client,
        "warehouse",
        "Stock Moves",
        "select=sku&limit=5&sku=eq." + quote(sku, safe=""),
    )
    assert moves.status_code == 200 and moves.get_json()
    assert {row["sku"] for row in moves.get_json()} == {sku}


def test_api_in_list_with_a_quoted_comma_and_other_schema(shapes_client):
    quoted = '"' + HOSTILE_SKU + '"'
    query = "sku=in." + quote(f"({quoted},XSS-1)", safe="")
    rows = _api_get(shapes_client, "warehouse", "products", query + "&select=sku").get_json()
    assert sorted(row["sku"] for row in rows) == sorted([HOSTILE_SKU, "XSS-1"])
    counts = _api_get(shapes_client, "Ops Data", "cycle_counts", "sku=eq." + quote(HOSTILE_SKU))
    assert [row["site_code"] for row in counts.get_json()] == ["LON/3"]


@pytest.mark.parametrize(
    ("sku", "text"),
    [("DRILL-100", "[1,10)"), (HOSTILE_SKU, "(,6)"), ("XSS-1", "[12,)"), ("DISC-1", "empty")],
)
def test_api_ranges_are_postgresql_text(shapes_client, sku, text):
    """As PostgREST, and as pipeline/values.py documents for types JSON lacks: the text PostgreSQL prints."""
    product = _one(shapes_client, "warehouse", "products", "sku=eq." + quote(sku, safe=""))
    assert product["pack_sizes"] == text


@pytest.mark.parametrize(
    ("schema", "name", "key", "column"),
    [
        ("warehouse", "products", "sku=eq.DRILL-100", "pack_sizes"),  # [1,10)
        ("warehouse", "products", "sku=eq." + quote(HOSTILE_SKU, safe=""), "pack_sizes"),  # (,6)
        ("warehouse", "products", "sku=eq.XSS-1", "pack_sizes"),  # [12,)
        ("warehouse", "products", "sku=eq.DISC-1", "pack_sizes"),  # empty
        ("warehouse", "products", "sku=eq." + quote(HOSTILE_SKU, safe=""), "shelf_life"),
        ("warehouse", "products", "sku=eq.XSS-1", "shelf_life"),  # negative
        ("warehouse", "products", "sku=eq.DRILL-100", "price"),
        ("warehouse", "products", "sku=eq.DRILL-100", "created_at"),
        ("warehouse", "sites", "code=eq.BER%202", "gateway"),
        ("warehouse", "sites", "code=eq.LON%2F3", "network"),
        ("warehouse", "sites", "code=eq.AMS-1", "country"),  # char(3), blank-padded
        ("warehouse", "sites", "code=eq.DXB%3F4", "closes"),
        ("Ops Data", "scanners", "firmware=eq.v1.2.3", "mac"),
        ("Ops Data", "scanners", "firmware=eq.v1.2.3", "id"),
        ("warehouse", "Stock Moves", "id=eq.5", "kind"),  # 'Return & Refund'
    ],
)
def test_api_values_work_as_filter_values(shapes_client, schema, name, key, column):
    """A value read from the API, sent back in an eq filter, finds its row again."""
    value = _one(shapes_client, schema, name, f"{key}&select={quote(column)}")[column]
    again = _api_get(shapes_client, schema, name, f"{key}&{quote(column)}=eq.{quote(str(value))}")
    assert again.status_code == 200, (value, again.get_data(as_text=True)[:300])
    assert len(again.get_json()) == 1, value


# ---------------------------------------------------------------------------
# HTML: every table page, then a crawl of every link the pages generate
# ---------------------------------------------------------------------------

VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track"}
    | {"wbr"}
)
# Elements whose end tag HTML lets the author leave out.
OPTIONAL_END = frozenset(
    {"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "optgroup"}
    | {"colgroup", "caption", "rt", "rp"}
)


class PageCheck(HTMLParser):
    """Parses one HTML page: collects its links and what is malformed or unsafe in it.

    problems holds (kind, detail) pairs, so a crawl can summarize them by kind.
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.problems: list[tuple[str, str]] = []
        self._open: list[str] = []
        self._ids: Counter[str] = Counter()
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(("event handler attribute", f"<{tag} {name}={value!r}>"))
            if name == "id" and value is not None:
                self._ids[value] += 1
        href = dict(attrs).get("href") if tag in ("a", "link") else None
        if href is not None:
            self.links.append(href)
            if any(char.isspace() for char in href):
                self.problems.append(("href with unescaped whitespace", href))
            if href.strip().lower().startswith("javascript:"):
                self.problems.append(("javascript: link", href))
        self._in_script = tag == "script"
        if tag not in VOID_ELEMENTS:
            self._open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self._open.pop()

    def handle_endtag(self, tag):
        self._in_script = False
        if tag in VOID_ELEMENTS:
            return
        if tag not in self._open:
            self.problems.append(("end tag that closes nothing", f"</{tag}>"))
            return
        while (top := self._open.pop()) != tag:
            if top not in OPTIONAL_END:
                self.problems.append(("element not closed", f"<{top}> before </{tag}>"))

    def handle_data(self, data):
        if self._in_script and "alert(1)" in data:
            self.problems.append(("row data inside a <script> element", data[:80]))

    def finish(self) -> None:
        """Close the parse and record what was left open or used twice."""
        self.close()
        unclosed = [tag for tag in self._open if tag not in OPTIONAL_END]
        if unclosed:
            self.problems.append(("element never closed", " ".join(unclosed)))
        for value, count in self._ids.items():
            if count > 1:
                self.problems.append(("duplicate id", f"{value!r} {count} times"))


def check_page(html: str) -> PageCheck:
    """Parse html; its problems are whatever is malformed or unsafe."""
    page = PageCheck()
    try:
        page.feed(html)
        page.finish()
    except Exception as exc:  # noqa: BLE001 - any parser failure is the finding
        page.problems.append(("html.parser failed", repr(exc)))
    lowered = html.lower()
    if not lowered.lstrip().startswith("<!doctype html>"):
        page.problems.append(("no doctype", html[:60]))
    page.problems.extend(
        ("unescaped hostile value", raw) for raw in RAW_FORBIDDEN if raw in lowered
    )
    return page


@pytest.mark.parametrize(("schema", "name"), sorted(EXPECTED_RELATIONS))
def test_table_page_of_every_relation(shapes_client, schema, name):
    response = shapes_client.get(_browse_url(schema, name))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:500]
    assert response.mimetype == "text/html"
    problems = sorted(set(check_page(html).problems))
    assert not problems, pformat(problems[:5])
    assert escape(name) in html


def test_hostile_values_show_escaped_on_the_products_page(shapes_client):
    html = shapes_client.get("/browse/warehouse/products").get_data(as_text=True)
    problems = sorted(set(check_page(html).problems))
    assert not problems, pformat(problems[:5])
    assert escape(SCRIPT) in html and escape(IMG) in html
    assert TEMPLATE_NAME in html  # shown literally: never rendered as a template
    assert "שלום" in html and "👩\u200d💻" in html


@pytest.mark.parametrize(("schema", "name"), sorted(EXPECTED_RELATIONS))
def test_every_sort_link_of_a_table_page_works(shapes_client, schema, name):
    """Column headers link to sorted pages: each must answer, whatever the column's type."""
    page = check_page(shapes_client.get(_browse_url(schema, name)).get_data(as_text=True))
    sorted_pages = {
        target
        for href in page.links
        if (target := _same_site(_browse_url(schema, name), href))
        and any(key == "order" for key, _ in parse_qsl(urlsplit(target).query))
    }
    statuses = {url: shapes_client.get(url).status_code for url in sorted(sorted_pages)}
    assert not {url: status for url, status in statuses.items() if status >= 400}


MAX_URLS = 400
MAX_DEPTH = 4
# Sort, filter, page and row variants of one path: enough to cover each kind of link,
# not all of them. An export of a variant runs the same code as the export itself.
MAX_PER_PATH = 8
MAX_PER_EXPORT_PATH = 2
EXPORT_HEAD_BYTES = 64 * 1024


@dataclass
class Crawl:
    """What a crawl saw: every URL fetched, its status, and the problems found."""

    statuses: dict[str, int] = field(default_factory=dict)
    linked_from: dict[str, str] = field(default_factory=dict)
    problems: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    html: dict[str, str] = field(default_factory=dict)

    def visited(self, path: str, **query: str) -> bool:
        """True when a URL of path (unescaped) with these query values was fetched."""
        for url in self.statuses:
            parts = urlsplit(url)
            if (
                unquote(parts.path) == path
                and query.items() <= dict(parse_qsl(parts.query)).items()
            ):
                return True
        return False


def _same_site(base: str, href: str) -> str | None:
    """The local URL an href points to (fragment dropped, as a browser does), or None."""
    url, _ = urldefrag(urljoin("http://localhost" + base, href))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc != "localhost":
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _canonical(url: str) -> tuple[str, tuple]:
    """A URL as the server reads it, so two spellings of one address count once."""
    parts = urlsplit(url)
    return unquote(parts.path), tuple(parse_qsl(parts.query, keep_blank_values=True))


def _is_export(path: str) -> bool:
    return path.endswith((".csv", ".ndjson"))


def _fetch(client, url: str) -> tuple[int, str | None]:
    """Status and, for HTML, the page; other bodies (exports, images) are read only in part."""
    response = client.get(url, buffered=False)
    try:
        if response.mimetype == "text/html" and not _is_export(urlsplit(url).path):
            return response.status_code, response.get_data(as_text=True)
        head = 0
        for chunk in response.iter_encoded():
            head += len(chunk)
            if head >= EXPORT_HEAD_BYTES:
                break
        return response.status_code, None
    finally:
        response.close()


def crawl_site(client) -> Crawl:
    """Breadth-first from /, following every local link, within the limits above.

    Links carrying one of the odd keys are always followed, whatever the caps.
    """
    crawl = Crawl()
    queue = deque([("/", 0)])
    seen = {_canonical("/")}
    per_path: Counter[str] = Counter()
    while queue and len(crawl.statuses) < MAX_URLS:
        url, depth = queue.popleft()
        crawl.statuses[url], html = _fetch(client, url)
        if html is None:
            continue
        crawl.html[url] = html
        page = check_page(html)
        for problem in page.problems:
            crawl.problems.setdefault(problem, []).append(url)
        if depth >= MAX_DEPTH:
            continue
        for href in page.links:
            target = _same_site(url, href)
            if target is None or _canonical(target) in seen:
                continue
            path, query = _canonical(target)
            cap = MAX_PER_EXPORT_PATH if _is_export(path) else MAX_PER_PATH
            odd_key = any(value in ODD_SKUS for _, value in query)
            if per_path[path] >= cap and not odd_key:
                continue
            seen.add((path, query))
            per_path[path] += 1
            crawl.linked_from[target] = url
            queue.append((target, depth + 1))
    return crawl


@pytest.fixture(scope="module")
def crawl(shapes_app) -> Crawl:
    """One crawl of the shapes app, shared by the crawl tests."""
    return crawl_site(shapes_app.test_client())


@pytest.mark.slow
def test_crawl_reaches_every_relation_and_odd_row(crawl):
    for schema, name in EXPECTED_RELATIONS:
        assert crawl.visited(f"/browse/{schema}/{name}"), (schema, name)
    # The row with the URL-hostile key is reached by following a link to it.
    assert crawl.visited("/browse/warehouse/products/row", sku=HOSTILE_SKU)
    assert crawl.visited("/browse/warehouse/products/row", sku=RTL_SKU)


@pytest.mark.slow
def test_crawl_finds_no_server_errors(crawl):
    errors = {
        url: (status, f"linked from {crawl.linked_from.get(url)}")
        for url, status in crawl.statuses.items()
        if status >= 500
    }
    assert not errors, pformat(errors)


@pytest.mark.slow
def test_crawl_finds_no_broken_links(crawl):
    """Every link a page generates leads somewhere: a 4xx is a link the app should not make."""
    broken = {
        url: (status, f"linked from {crawl.linked_from.get(url)}")
        for url, status in crawl.statuses.items()
        if 400 <= status < 500
    }
    assert not broken, pformat(broken)


@pytest.mark.slow
def test_crawl_pages_are_well_formed_and_escaped(crawl):
    by_kind: dict[str, list[str]] = {}
    for (kind, detail), urls in sorted(crawl.problems.items()):
        by_kind.setdefault(kind, []).append(f"{detail} (on {len(urls)} pages, e.g. {urls[0]})")
    summary = {kind: [f"{len(found)} distinct", *found[:3]] for kind, found in by_kind.items()}
    assert not summary, pformat(summary, width=120)


@pytest.mark.slow
def test_crawl_shows_hostile_values_literally(crawl):
    everything = "\n".join(crawl.html.values())
    assert escape(SCRIPT) in everything and escape(IMG) in everything
    assert TEMPLATE_NAME in everything
    assert "שלום" in everything and "👩\u200d💻" in everything
