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
from operator import itemgetter
from typing import Any

import orjson
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
        # jsonb may hold integers beyond 64 bits, or nest deeper than orjson goes (254 levels).
        return _dumps_piecewise(data, option)


def strip_nulls(data: Any) -> Any:
    """data without the object keys whose value is null, at every level (json_strip_nulls).

    In place, with a stack rather than recursion: jsonb values may nest deeper than Python's
    recursion limit.
    """
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in [key for key, value in item.items() if value is None]:
                del item[key]
            stack.extend(value for value in item.values() if isinstance(value, dict | list))
        elif isinstance(item, list):
            stack.extend(value for value in item if isinstance(value, dict | list))
    return data


class _Piece(bytes):
    """Punctuation on _dumps_piecewise's stack: written as it is."""


def _dumps_piecewise(data: Any, option: int) -> bytes:
    """The bytes orjson.dumps would give, built with a stack of containers instead of recursion.

    Scalars are still orjson's (integers beyond 64 bits as their digits): only arrays and
    objects are taken apart here, so no nesting is too deep and nothing else differs.
    """
    indent = bool(option & orjson.OPT_INDENT_2)
    option &= ~orjson.OPT_INDENT_2
    out: list[bytes] = []
    stack: list[Any] = [(data, 0)]
    while stack:
        item = stack.pop()
        if type(item) is _Piece:
            out.append(item)
            continue
        value, depth = item
        if isinstance(value, dict | list | tuple) and value:
            stack.extend(reversed(_container_pieces(value, depth, indent, option)))
        elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 63:
            out.append(str(value).encode())
        else:
            out.append(orjson.dumps(value, default=encode_value, option=option))
    return b"".join(out)


def _container_pieces(value: Any, depth: int, indent: bool, option: int) -> list[Any]:
    """A non-empty array or object as its punctuation and its (member, depth) pairs, in order."""
    is_object = isinstance(value, dict)
    newline = b"\n" + b"  " * (depth + 1) if indent else b""
    pieces: list[Any] = [_Piece(b"{" if is_object else b"[")]
    for i, member in enumerate(value.items() if is_object else value):
        separator = (b"," if i else b"") + newline
        if is_object:
            # orjson's own text for the key, whatever its type (OPT_NON_STR_KEYS): '{"k":null}'.
            key = orjson.dumps({member[0]: None}, default=encode_value, option=option)[1:-6]
            separator += key + (b": " if indent else b":")
            member = member[1]
        pieces += [_Piece(separator), (member, depth + 1)]
    closing = b"}" if is_object else b"]"
    pieces.append(_Piece((b"\n" + b"  " * depth if indent else b"") + closing))
    return pieces


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


# A cell starting with one of these is run as a formula by spreadsheets (OWASP, CSV injection).
FORMULA_STARTS = frozenset("=+-@\t\r")


def safe_text(text: str) -> str:
    """Text a spreadsheet would run as a formula, with a ' in front so it shows as text."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


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


def csv_fields(values: Iterable[Any], safe: bool = False) -> list[Any]:
    """One CSV record's fields: csv_cell's text for each value (safe: text cells by safe_text)."""
    fields = []
    for value in values:
        kind = type(value)
        if safe and isinstance(value, str):  # text by its type: -5 in a number column is a number
            fields.append(safe_text(value))
        elif value is None or kind in _CSV_AS_IS:
            fields.append(value)
        else:
            convert = _CSV_CONVERT.get(kind)
            fields.append(convert(value) if convert else csv_cell(value))
    return fields


_CSV_PLAIN = _CSV_AS_IS | {type(None)}
_TEXT_OR_NULL = frozenset({str, type(None)})
_first = itemgetter(0)


def _plain_batch(rows: list[Sequence], safe: bool) -> bool:
    """True when rows hold only text, integers, uuids and nulls (safe: no text like a formula)."""
    if not safe:
        return {type(value) for row in rows for value in row} <= _CSV_PLAIN
    for column in zip(*rows, strict=True):  # by column, so the text is checked in C (map, filter)
        kinds = set(map(type, column))
        if not kinds <= _CSV_PLAIN:
            return False
        if str in kinds and (
            not kinds <= _TEXT_OR_NULL
            or not FORMULA_STARTS.isdisjoint(map(_first, filter(None, column)))
        ):
            return False
    return True


def csv_text(
    keys: list[str], rows: Iterable[Sequence], header: bool = True, safe: bool = False
) -> str:
    """Rows (sequences in the order of keys) as CSV (RFC 4180), after a header unless header=False.

    safe=True writes text cells that a spreadsheet would run as a formula with a ' in front.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(keys)
    rows = rows if isinstance(rows, list) else list(rows)
    if _plain_batch(rows, safe):
        writer.writerows(rows)  # written as they are: nothing to convert or neutralise
    else:
        writer.writerows(csv_fields(row, safe) for row in rows)
    return out.getvalue()
