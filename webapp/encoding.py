"""json_response() for views; the encoding of values itself is webapp/pipeline/values.py.

This module is the public path of the encoding (README: Your own views): `json_response`,
and the pipeline's `dumps`, `encode_value`, `csv_text` and `csv_cell`, re-exported.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from .pipeline.values import csv_cell, csv_text, dumps, encode_value

__all__ = ["csv_cell", "csv_text", "dumps", "encode_value", "json_response"]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with our encoding."""
    return Response(dumps(data), status=status, headers=headers, mimetype="application/json")
