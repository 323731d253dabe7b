"""The row page: every column of one row, its foreign keys and the rows that point at it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("rows", __name__)
