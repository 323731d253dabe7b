"""The reflected catalog: an immutable snapshot of the served tables and views."""

from __future__ import annotations

import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from .functions import Function, Functions, computed_columns, function_names, reflect_functions
from .hiding import Hiding, resolve_hiding
from .models import ModelNaming, Models, build_models
from .view_columns import ColumnRef, reflect_view_columns

# relkind in pg_class -> the word we show users.
RELATION_KINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}

_RELATIONS_SQL = sa.text(
    """
    SELECT n.nspname AS schema, c.relname AS name, c.relkind AS relkind,
           c.relispartition AS is_partition,
           pg_relation_is_updatable(c.oid::regclass, true) AS updatable
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY(:schemas) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    """
)

# Bits of pg_relation_is_updatable(): 1 << CMD_UPDATE, 1 << CMD_INSERT, 1 << CMD_DELETE.
_COMMAND_BITS = {"UPDATE": 4, "INSERT": 8, "DELETE": 16}

_COLUMN_TYPES_SQL = sa.text(
    """
    SELECT n.nspname AS schema, c.relname AS relation, a.attname AS column,
           format_type(a.atttypid, a.atttypmod) AS type_name
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY(:schemas) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND a.attnum > 0 AND NOT a.attisdropped
    """
)


class NotInCatalog(LookupError):
    """A name asked for is not a served table or view (or, with `relation`, not one of its columns)."""

    def __init__(self, name: str, schema: str | None = None, relation: str | None = None):
        self.name = name
        self.schema = schema
        self.relation = relation
        where = relation or (f"{schema}.{name}" if schema else name)
        super().__init__(f"{name} in {where}" if relation else where)


@dataclass(frozen=True)
class Relation:
    """One served table or view: the reflected Table plus what reflection does not say."""

    table: sa.Table
    kind: str
    is_partition: bool = False
    # The commands PostgreSQL accepts on it: a subset of INSERT, UPDATE, DELETE.
    writable: frozenset[str] = frozenset()
    # Columns configured as hidden: never served, described or written (joins may use them).
    hidden: frozenset[str] = frozenset()
    type_names: Mapping[str, str] = field(default_factory=dict)
    # Functions f(row) returning a scalar, by name: read as columns (never written).
    computed: Mapping[str, Function] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        """The schema the relation lives in."""
        return self.table.schema or "public"

    @property
    def name(self) -> str:
        """The relation's own name, unqualified."""
        return self.table.name

    @property
    def qualified_name(self) -> str:
        """schema.name, as a user would type it."""
        return f"{self.schema}.{self.name}"

    @property
    def comment(self) -> str | None:
        """The table or view comment, if the DBA wrote one."""
        return self.table.comment

    @property
    def primary_key(self) -> tuple[str, ...]:
        """Primary key column names in key order; empty for views and keyless tables."""
        return tuple(col.name for col in self.table.primary_key.columns)

    @property
    def is_view(self) -> bool:
        """True for plain and materialized views."""
        return self.kind in ("view", "materialized view")

    @property
    def columns(self) -> list[sa.Column]:
        """The served columns, in table order (hidden ones left out)."""
        return [column for column in self.table.columns if column.name not in self.hidden]

    def column(self, name: str) -> sa.Column:
        """The served column called name, or NotInCatalog."""
        try:
            if name in self.hidden:
                raise KeyError(name)
            return self.table.columns[name]
        except KeyError:
            raise NotInCatalog(name, self.schema, relation=self.qualified_name) from None


@dataclass(frozen=True)
class Catalog:
    """Every served relation of the configured schemas, as reflected at one moment."""

    schemas: tuple[str, ...]
    relations: Mapping[tuple[str, str], Relation]
    metadata: sa.MetaData
    loaded_at: float
    load_seconds: float
    # The schema SQLAlchemy leaves off names found on the search path (usually public).
    search_schema: str = "public"
    # What HIDDEN removes: relations (with their partitions and children) and columns.
    hiding: Hiding = field(default_factory=Hiding)
    # Each view's columns that show a base-table column: {view: {column: (schema, table, column)}}
    view_columns: Mapping[tuple[str, str], Mapping[str, ColumnRef]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # The served functions (RPC), by (schema, name); overloads share a key.
    functions: Functions = field(default_factory=lambda: MappingProxyType({}))
    # Built from this snapshot on first use, once per snapshot: see derived() and models().
    _derived: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    # Reentrant: building one derived thing (the models) may use another (the foreign keys).
    _derived_lock: threading.RLock = field(
        default_factory=threading.RLock, compare=False, repr=False
    )

    def derived(self, key: str, build: Callable[[], Any]) -> Any:
        """What build() makes of this snapshot, built on first use and kept with it."""
        with self._derived_lock:
            if key not in self._derived:
                self._derived[key] = build()
            return self._derived[key]

    @property
    def tables(self) -> Tables:
        """The tables by attribute: catalog.tables.books (default schema), tables["reporting.x"]."""
        return Tables(self)

    def models(self, naming: ModelNaming | None = None) -> Models:
        """Automap classes of this snapshot's tables, built on first use; one naming per snapshot.

        Two sets of classes over the same tables would fight over their foreign keys, so a
        naming unlike the one the classes were built with is a ValueError.
        """
        naming = naming or ModelNaming()
        with self._derived_lock:
            if "models" not in self._derived:
                self._derived["models"] = (naming, build_models(self, naming))
            built_with, models = self._derived["models"]
        if type(built_with) is not type(naming) or vars(built_with) != vars(naming):
            raise ValueError(
                f"this snapshot's classes are named by {type(built_with).__name__}: "
                "use one naming (MODEL_NAMING) throughout, through current_models()"
            )
        return models

    @property
    def default_schema(self) -> str:
        """The first configured schema: where unqualified names are looked up."""
        return self.schemas[0]

    def relation(self, name: str, schema: str | None = None) -> Relation:
        """Resolve a relation by name (in the default schema unless one is given)."""
        if schema is None and "." in name:
            schema, name = name.split(".", 1)
        key = (schema or self.default_schema, name)
        try:
            return self.relations[key]
        except KeyError:
            raise NotInCatalog(name, schema) from None

    def table(self, name: str, schema: str | None = None) -> sa.Table:
        """The reflected Table for name ("books" or "reporting.loan_events")."""
        return self.relation(name, schema).table

    def relation_of(self, table: sa.Table) -> Relation | None:
        """The served relation a Table (a foreign key's target, say) stands for, if any."""
        return self.relations.get((table.schema or self.search_schema, table.name))

    def in_schema(self, schema: str) -> list[Relation]:
        """The relations of one schema, sorted by name."""
        return sorted(
            (rel for (sch, _), rel in self.relations.items() if sch == schema),
            key=lambda rel: rel.name,
        )


class Tables:
    """Attribute access to a snapshot's tables and views: tables.books, tables["reporting.x"]."""

    __slots__ = ("_catalog",)

    def __init__(self, catalog: Catalog):
        self._catalog = catalog

    def __getattr__(self, name: str) -> sa.Table:
        """The table or view called name in the default schema."""
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._catalog.table(name, self._catalog.default_schema)
        except NotInCatalog:
            schema = self._catalog.default_schema
            raise AttributeError(f"no table or view {name!r} in schema {schema!r}") from None

    def __getitem__(self, name: str) -> sa.Table:
        """The table or view called "name" (default schema) or "schema.name"; NotInCatalog if none."""
        return self._catalog.table(name)

    def __contains__(self, name: object) -> bool:
        """True when "name" or "schema.name" is served."""
        try:
            return isinstance(name, str) and self[name] is not None
        except NotInCatalog:
            return False

    def __iter__(self) -> Iterator[str]:
        """The qualified names (schema.name), sorted."""
        return iter(
            sorted(relation.qualified_name for relation in self._catalog.relations.values())
        )

    def __len__(self) -> int:
        """How many tables and views are served."""
        return len(self._catalog.relations)

    def __dir__(self) -> list[str]:
        """The default schema's names (for completion in the shell)."""
        return [relation.name for relation in self._catalog.in_schema(self._catalog.default_schema)]


# Reflection is the server's own work, not a request's: a short DB_STATEMENT_TIMEOUT (meant
# for requests) must not stop startup or a reload, so it gets at least a minute, for this
# transaction only; an unbounded setting ('0') stays unbounded.
_REFLECTION_TIMEOUT = sa.text(
    "SELECT set_config('statement_timeout', '60s', true)"
    " WHERE current_setting('statement_timeout') <> '0'"
    " AND current_setting('statement_timeout')::interval < interval '60 seconds'"
)


def reflect_catalog(
    engine: Engine,
    schemas: Iterable[str],
    hidden: Iterable[str] = (),
    previous: Hiding | None = None,
) -> Catalog:
    """Reflect every table and view of the schemas into a new, immutable Catalog.

    hidden names relations ("schema.table") and columns ("schema.table.column") to leave out,
    with their partitions and inheritance children; previous (the last snapshot's hiding)
    keeps hiding what an entry named before a rename.
    """
    schemas, hidden = tuple(schemas), tuple(hidden)
    started = time.perf_counter()
    metadata = sa.MetaData()
    with engine.connect() as conn:
        conn.execute(_REFLECTION_TIMEOUT)
        kinds = {
            (row.schema, row.name): (
                RELATION_KINDS[row.relkind],
                row.is_partition,
                frozenset(cmd for cmd, bit in _COMMAND_BITS.items() if row.updatable & bit),
            )
            for row in conn.execute(_RELATIONS_SQL, {"schemas": list(schemas)})
        }
        type_names: dict[tuple[str, str], dict[str, str]] = {}
        for row in conn.execute(_COLUMN_TYPES_SQL, {"schemas": list(schemas)}):
            type_names.setdefault((row.schema, row.relation), {})[row.column] = row.type_name
        _with_room_to_recurse(len(kinds), lambda: _reflect_schemas(conn, metadata, schemas))
        search_schema = conn.dialect.default_schema_name or "public"
        # An entry naming a function (and no relation) hides the function: no dangling entry.
        hidden_functions = function_names(conn, schemas).intersection(hidden)
        hiding = resolve_hiding(
            conn,
            [n for n in hidden if n not in hidden_functions or tuple(n.split(".")) in kinds],
            previous,
        )
        functions = reflect_functions(conn, schemas, hidden_functions, hiding.relations)
        view_columns = reflect_view_columns(conn, schemas)
        conn.rollback()
    _domains_as_base_types(metadata)
    _keys_the_server_may_fill(metadata)
    relations = {}
    computed = computed_columns(functions)
    for table in metadata.tables.values():
        key = (table.schema, table.name)
        if key not in kinds or key in hiding.relations:
            continue  # outside the served schemas (pulled in by a foreign key), or hidden
        kind, is_partition, writable = kinds[key]
        hidden_columns = hiding.columns_of(*key)
        hidden_key = hidden_columns & {column.name for column in table.primary_key.columns}
        if hidden_key:
            raise ValueError(
                f"HIDDEN names {', '.join(sorted(hidden_key))} of {'.'.join(key)}, part of its"
                " primary key, which paging, row links and writes need: hide the table instead"
            )
        relations[key] = Relation(
            table=table,
            kind=kind,
            is_partition=is_partition,
            writable=writable,
            hidden=hidden_columns,
            type_names=MappingProxyType(type_names.get(key, {})),
            computed=MappingProxyType(computed.get(key, {})),
        )
    return Catalog(
        schemas=schemas,
        relations=MappingProxyType(relations),
        metadata=metadata,
        loaded_at=time.time(),
        load_seconds=time.perf_counter() - started,
        search_schema=search_schema,
        hiding=hiding,
        view_columns=view_columns,
        functions=functions,
    )


def _reflect_schemas(conn: Connection, metadata: sa.MetaData, schemas: tuple[str, ...]) -> None:
    """Reflect tables and views; types SQLAlchemy does not know stay NullType and are served as text."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Did not recognize type", category=sa.exc.SAWarning
        )
        for schema in schemas:
            # Reflect with an explicit schema so every Table is schema-qualified, public included.
            metadata.reflect(conn, schema=schema, views=True)


_STACK_BYTES = 512 * 1024 * 1024  # address space; only the pages a deep reflection touches are used
_FRAMES_PER_TABLE = 25
_reflect_lock = threading.Lock()


def _with_room_to_recurse(tables: int, reflect: Callable[[], None]) -> None:
    """Run reflect in a thread with a large stack and a recursion limit sized to the tables.

    SQLAlchemy reflects a foreign key's target from inside the referencing table, so a chain
    of foreign keys listed referencing-first nests one reflection per link: 200 chained
    tables overflow Python's default limit of 1,000 frames.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            reflect()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
            failure.append(exc)

    with _reflect_lock:  # process-wide settings: one reflection at a time changes them
        old_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old_limit, 1000 + tables * _FRAMES_PER_TABLE))
        try:
            old_size = threading.stack_size(_STACK_BYTES)
            try:
                thread = threading.Thread(target=run, name="pgfront-reflect")
                thread.start()
            finally:
                threading.stack_size(old_size)
            thread.join()
        finally:
            sys.setrecursionlimit(old_limit)
    if failure:
        raise failure[0]


def _keys_the_server_may_fill(metadata: sa.MetaData) -> None:
    """Mark key columns reflected without a default as filled by the server, if at all.

    A partition's key column takes its identity from the partitioned table, which reflection
    does not show; SQLAlchemy would warn on every insert that leaves it out. PostgreSQL
    decides: it fills the value, or refuses the row (23502, a 400).
    """
    for table in metadata.tables.values():
        for column in table.primary_key.columns:
            if column.server_default is None and column.identity is None and not column.default:
                column.server_default = sa.FetchedValue()


def _domains_as_base_types(metadata: sa.MetaData) -> None:
    """Give domain columns their base type: values convert, compare and encode as that type.

    The domain's own name stays in Relation.type_names; PostgreSQL still checks its rules.
    """
    for table in metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, postgresql.DOMAIN):
                column.type = column.type.data_type


class CatalogHolder:
    """Holds the current catalog; a reload swaps in a whole new snapshot atomically."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog
        self._lock = threading.Lock()

    @property
    def current(self) -> Catalog:
        """The snapshot a request should use from start to end."""
        return self._catalog

    def swap(self, catalog: Catalog) -> Catalog:
        """Replace the snapshot; requests holding the old one finish on it. Returns the old one."""
        with self._lock:
            old, self._catalog = self._catalog, catalog
        return old
