"""Parsers of setting values: text in, a value out, or a ValueError that says what is wrong.

config.py pairs each with its setting and reads the environment; these never do. A message
starting with "must" or "is not" says what a valid value looks like; it is shown after the
setting's name, followed by an example.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL

from db.engine import normalize_url

PRIMARY_DATABASE = "main"  # the name of the DATABASE_URL database among the named ones
DATABASE_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_BLUEPRINT_ENTRY = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*\Z")
_URL_SHAPE = "a postgresql://user:password@host:port/dbname URL"


def positive_int(text: str) -> int:
    """An integer above zero."""
    return _number(text, int, "must be a whole number above 0", lambda value: value > 0)


def non_negative_int(text: str) -> int:
    """An integer, zero or more."""
    return _number(text, int, "must be a whole number, 0 or more", lambda value: value >= 0)


def int_between(low: int, high: int) -> Callable[[str], int]:
    """A parser of integers from low to high (a bound the code relies on, such as recursion)."""

    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def positive_float(text: str) -> float:
    """A finite number above zero."""
    return _number(
        text, float, "must be a number above 0", lambda value: value > 0 and math.isfinite(value)
    )


def port(text: str) -> int:
    """A TCP port, 0 for any free one."""
    rule = "must be a whole number from 0 to 65535"
    return _number(text, int, rule, lambda value: 0 <= value <= 65535)


def _number(text: str, kind: Callable[[str], Any], rule: str, valid: Callable[[Any], bool]) -> Any:
    """text read as a number of that kind; ValueError(rule) when it is none or not valid."""
    try:
        value = kind(text.strip())
    except ValueError:
        raise ValueError(rule) from None
    if not valid(value):
        raise ValueError(rule)
    return value


def schema_names(text: str) -> tuple[str, ...]:
    """Comma-separated schema names, at least one."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise ValueError("must name at least one schema")
    return names


def names(text: str) -> tuple[str, ...]:
    """Comma-separated names, possibly none."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def text(value: str) -> str:
    """Text that is not blank."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def optional_text(value: str) -> str | None:
    """Text, or None when blank."""
    return value.strip() or None


def secret(length: int) -> Callable[[str], str | None]:
    """A parser of secrets of at least length characters (None when blank): short ones are guessed."""

    def parse(value: str) -> str | None:
        value = value.strip()
        if value and len(value) < length:
            raise ValueError(f"must be at least {length} characters long")
        return value or None

    return parse


def database_url(value: str) -> str | None:
    """A PostgreSQL URL, checked now so a typo fails at startup (the password never printed)."""
    if not value.strip():
        return None
    try:
        url = normalize_url(value.strip())
        _ = url.port  # parses the port
    except Exception:  # noqa: BLE001 - make_url raises several kinds; all mean the same here
        raise ValueError(f"is not {_URL_SHAPE}") from None
    return value.strip()


def flag(value: str) -> bool:
    """true/false, 1/0, yes/no, on/off."""
    lowered = value.strip().lower()
    if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ValueError("must be true or false")
    return lowered in ("true", "1", "yes", "on")


def hidden_names(value: str) -> tuple[str, ...]:
    """schema.table and schema.table.column, each optionally prefixed by a database: `reports:`."""
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    for name in names:
        database, _, relation = split_database_prefix(name)
        if database is not None and not DATABASE_NAME.match(database):
            raise ValueError(f"must prefix names with a database name and ':', not {name!r}")
        if relation.count(".") not in (1, 2):
            raise ValueError(f"must list schema.table or schema.table.column, not {name!r}")
    return names


def split_database_prefix(name: str) -> tuple[str | None, str, str]:
    """("reports", ":", "sales.customers") for "reports:sales.customers"; (None, "", name) unprefixed."""
    database, colon, rest = name.partition(":")
    return (database, colon, rest) if colon else (None, "", name)


def label_columns(value: str) -> dict[tuple[str, str], str]:
    """schema.table.column, comma-separated: the labelling column of each table."""
    labels = {}
    for part in (part.strip() for part in value.split(",")):
        if not part:
            continue
        if part.count(".") != 2:
            raise ValueError(f"must list schema.table.column, not {part!r}")
        schema, table, column = part.split(".")
        labels[(schema, table)] = column
    return labels


def blueprint_entries(value: str) -> tuple[str, ...]:
    """module:attribute entries naming blueprints, separated by commas or whitespace."""
    entries = tuple(value.replace(",", " ").split())
    for entry in entries:
        if not _BLUEPRINT_ENTRY.match(entry):
            raise ValueError(f"must list module:attribute entries, not {entry!r}")
    return entries


def log_level(value: str) -> str:
    """A logging level name."""
    level = value.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return level


TX_ENDS = ("commit", "commit-allow-override", "rollback", "rollback-allow-override")


def tx_end(value: str) -> str:
    """How a write's transaction ends (PostgREST's db-tx-end values)."""
    end = value.strip().lower()
    if end not in TX_ENDS:
        raise ValueError("must be " + ", ".join(TX_ENDS[:-1]) + " or " + TX_ENDS[-1])
    return end


@dataclass(frozen=True)
class NamedDatabase:
    """A database served besides the primary one, under /db/<name>/ (the DATABASES setting)."""

    name: str
    url: str  # without its schemas= parameter
    schemas: tuple[str, ...]
    hidden: tuple[str, ...] = ()


def named_databases(value: str | Mapping[str, Any]) -> dict[str, NamedDatabase]:
    """`name=url name=url` (or a mapping name -> url); a URL's `?schemas=a,b` names what it serves."""
    if isinstance(value, str):
        entries = []
        for entry in value.split():
            name, equals, url = entry.partition("=")
            if not equals or not url:
                raise ValueError(f"must list name=url entries, not {_shown(name)}")
            entries.append((name, url))
    else:
        entries = list(value.items())
    found: dict[str, NamedDatabase] = {}
    for name, url in entries:
        if not isinstance(name, str) or not DATABASE_NAME.match(name):
            raise ValueError(
                "must name databases with lowercase letters, digits and _ "
                f"(a letter first), not {_shown(name)}"
            )
        if name == PRIMARY_DATABASE:
            raise ValueError(f"must not name a database {name!r}: that is DATABASE_URL's name")
        if name in found:
            raise ValueError(f"must name each database once, not {name!r} twice")
        found[name] = _named_database(name, url)
    return found


def _named_database(name: str, url: str | URL) -> NamedDatabase:
    """One DATABASES entry: its URL checked, its schemas= taken out of the query."""
    try:
        parsed = normalize_url(url)
        _ = parsed.port
    except Exception:  # noqa: BLE001 - as database_url: every failure means the same
        raise ValueError(f"must give {name!r} {_URL_SHAPE}") from None
    wanted = parsed.query.get("schemas", "public")
    if not isinstance(wanted, str):  # ?schemas=a&schemas=b
        wanted = ",".join(wanted)
    try:
        schemas = schema_names(wanted)
    except ValueError:
        raise ValueError(f"must give {name!r} at least one schema in ?schemas=") from None
    plain = parsed.difference_update_query(["schemas"])
    return NamedDatabase(name, plain.render_as_string(hide_password=False), schemas)


def _shown(name: object) -> str:
    """A name for an error message, unless it may hold part of a URL (and so a password)."""
    text_ = str(name)
    return repr(text_) if re.fullmatch(r"[\w-]{1,40}", text_) else "that"
