"""The structure page of a table or view, and the schema page with its diagram."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("structure", __name__)
