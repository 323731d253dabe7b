"""Streaming CSV and NDJSON export of exactly the rows a table page shows."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("export", __name__)
