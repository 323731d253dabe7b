"""JSON encoding of database values, explicit and lossless.

- dates, times and timestamps: ISO 8601 (timestamptz with its offset)
- uuid: the canonical string
- numeric: a JSON number with every digit kept (NaN and infinities as strings)
- bytea: base64 (standard alphabet, padded)
- arrays and jsonb: JSON arrays and values
- interval: PostgreSQL's ISO 8601 text such as "P1Y2M14DT2H" (exact, and read back as the same interval)
- ranges: PostgreSQL's text such as "[1,10)", "(,6)" or "empty"
- anything else the driver returns (enums, tsvector, extension types): its text
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import orjson
from flask import Response
from sqlalchemy.dialects.postgresql import Range

# Dates and times come to encode_value: orjson refuses times with a zone.
_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _decimal(value: Decimal) -> Any:
    return orjson.Fragment(str(value)) if value.is_finite() else str(value)


# The common types by exact class first: one lookup instead of a chain of isinstance checks.
_BY_TYPE = {
    Decimal: _decimal,
    dt.datetime: dt.datetime.isoformat,
    dt.date: dt.date.isoformat,
    dt.time: dt.time.isoformat,
}


def encode_value(value: Any) -> Any:
    """orjson's fallback for the types it does not encode by itself."""
    encode = _BY_TYPE.get(type(value))
    if encode is not None:
        return encode(value)
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return iso_duration(value)
    if isinstance(value, Range):
        return range_text(value)
    return str(value)


def range_text(value: Range) -> str:
    """A range as PostgreSQL writes it: [1,10), (,6), empty."""
    if value.empty:
        return "empty"
    left = "[" if value.lower is not None and value.bounds[0] == "[" else "("
    right = "]" if value.upper is not None and value.bounds[1] == "]" else ")"
    return f"{left}{_bound(value.lower)},{_bound(value.upper)}{right}"


def _bound(value: Any) -> str:
    """One range bound as text; none for an unbounded side."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, dt.date | dt.datetime) else str(value)
    return f'"{text}"' if any(c in text for c in ' ,()[]"') else text


def iso_duration(delta: dt.timedelta) -> str:
    """An ISO 8601 duration for a timedelta: P1DT2H3M4.5S, negative as -P..."""
    sign = "-" if delta < dt.timedelta(0) else ""
    delta = abs(delta)
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    date_part = f"{delta.days}D" if delta.days else ""
    time_part = ""
    if hours:
        time_part += f"{hours}H"
    if minutes:
        time_part += f"{minutes}M"
    if seconds or delta.microseconds:
        secs = (
            f"{seconds}.{delta.microseconds:06d}".rstrip("0").rstrip(".")
            if delta.microseconds
            else str(seconds)
        )
        time_part += f"{secs}S"
    if not date_part and not time_part:
        return "PT0S"
    return f"{sign}P{date_part}" + (f"T{time_part}" if time_part else "")


def dumps(data: Any, indent: bool = False) -> bytes:
    """Encode data as JSON bytes (indented two spaces per level for people to read)."""
    option = _OPTIONS | orjson.OPT_INDENT_2 if indent else _OPTIONS
    try:
        return orjson.dumps(data, default=encode_value, option=option)
    except orjson.JSONEncodeError:
        # jsonb may hold integers beyond 64 bits, which orjson does not encode itself.
        return orjson.dumps(_big_ints_as_text(data), default=encode_value, option=option)


def _big_ints_as_text(data: Any) -> Any:
    """A copy of data with integers beyond 64 bits as exact JSON number fragments."""
    if isinstance(data, dict):
        return {key: _big_ints_as_text(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_big_ints_as_text(value) for value in data]
    if isinstance(data, int) and not isinstance(data, bool) and not -(2**63) <= data < 2**64:
        return orjson.Fragment(str(data))
    return data


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with our encoding."""
    return Response(dumps(data), status=status, headers=headers, mimetype="application/json")


def csv_cell(value: Any) -> str:
    """A value as CSV text: empty for null, JSON for arrays and objects, else as in JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return dumps(value).decode("utf-8")
    encoded = dumps(value).decode("utf-8")
    return encoded[1:-1] if encoded.startswith('"') else encoded


# Types the csv module writes as str(value), which is exactly csv_cell's text for them.
_CSV_AS_IS = frozenset({str, int, uuid.UUID})
# Types with a cheaper conversion that gives csv_cell's text; every other type goes through it.
_CSV_CONVERT = {
    bool: lambda value: "true" if value else "false",
    Decimal: lambda value: str(value) if value.is_finite() else csv_cell(value),
    dt.datetime: dt.datetime.isoformat,
    dt.date: dt.date.isoformat,
    dt.time: dt.time.isoformat,
}


def csv_fields(values: Iterable[Any]) -> list[Any]:
    """One CSV record's fields: csv_cell's text for each value, computed per type."""
    fields = []
    for value in values:
        kind = type(value)
        if value is None or kind in _CSV_AS_IS:
            fields.append(value)
        else:
            convert = _CSV_CONVERT.get(kind)
            fields.append(convert(value) if convert else csv_cell(value))
    return fields


_CSV_PLAIN = _CSV_AS_IS | {type(None)}


def csv_text(keys: list[str], rows: Iterable[Sequence], header: bool = True) -> str:
    """Rows (sequences in the order of keys) as CSV (RFC 4180), after a header unless header=False."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(keys)
    rows = rows if isinstance(rows, list) else list(rows)
    if {type(value) for row in rows for value in row} <= _CSV_PLAIN:
        writer.writerows(rows)  # text, integers, uuids and nulls only: written as they are
    else:
        writer.writerows(csv_fields(row) for row in rows)
    return out.getvalue()
