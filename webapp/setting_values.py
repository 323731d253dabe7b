"""Parsers of setting values: text in, a value out, or a ValueError that says what is wrong.

config.py pairs each with its setting and reads the environment; these never do. A message
starting with "must" or "is not" is shown after the setting's name.
"""

from __future__ import annotations

from db.engine import normalize_url

_URL_SHAPE = "a postgresql://user:password@host:port/dbname URL"


def positive_int(text: str) -> int:
    """An integer above zero."""
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def non_negative_int(text: str) -> int:
    """An integer, zero or more."""
    value = int(text)
    if value < 0:
        raise ValueError("must be zero or more")
    return value


def positive_float(text: str) -> float:
    """A number above zero."""
    value = float(text)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def port(text: str) -> int:
    """A TCP port, 0 for any free one."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be between 0 and 65535")
    return value


def schema_names(text: str) -> tuple[str, ...]:
    """Comma-separated schema names, at least one."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise ValueError("must name at least one schema")
    return names


def text(value: str) -> str:
    """Text that is not blank."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def optional_text(value: str) -> str | None:
    """Text, or None when blank."""
    return value.strip() or None


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
    """schema.table and schema.table.column, comma-separated."""
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    for name in names:
        if name.count(".") not in (1, 2):
            raise ValueError(f"must list schema.table or schema.table.column, not {name!r}")
    return names


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


def log_level(value: str) -> str:
    """A logging level name."""
    level = value.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return level
