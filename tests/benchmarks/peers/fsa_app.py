"""The peer: a minimal Flask-SQLAlchemy app over reflected models, answering with jsonify.

What a typical Flask-SQLAlchemy app does: models whose `__table__` is reflected, queries
through `db.session.execute(db.select(...))`, `jsonify([row._asdict() ...])` with Flask's
JSON provider, told to write ISO 8601 timestamps and numbers for numeric (Flask's default
writes HTTP dates and strings) and to keep column order. Pool: 10 connections + 2 overflow,
as pgfront's at 8 threads.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_sqlalchemy import SQLAlchemy


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with ISO timestamps and numeric as numbers, keys in column order."""

    sort_keys = False

    @staticmethod
    def default(o):
        """ISO 8601 for dates and times, a number for Decimal, else Flask's default."""
        if isinstance(o, dt.date | dt.datetime | dt.time):
            return o.isoformat()
        if isinstance(o, Decimal):
            return float(o)
        return DefaultJSONProvider.default(o)


def create_app(url: str) -> Flask:
    """The app: reflect bench.items and bench.categories into models, then the views."""
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config["SQLALCHEMY_DATABASE_URI"] = url.replace("postgresql://", "postgresql+psycopg://", 1)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": 10, "max_overflow": 2}
    db = SQLAlchemy(app)
    with app.app_context():
        items = sa.Table("items", db.metadata, schema="bench", autoload_with=db.engine)
        categories = db.metadata.tables["bench.categories"]  # reflected along the foreign key

    class Category(db.Model):
        __table__ = categories

    class Item(db.Model):
        __table__ = items

    columns = (Item.id, Item.name, Item.price, Item.category_id, Item.created_at, Item.in_stock)

    def rows(stmt) -> list[dict]:
        return [row._asdict() for row in db.session.execute(stmt)]

    @app.get("/items")
    def list_items():
        """The first rows by id, or the rows after ?after=<id> (keyset)."""
        limit = request.args.get("limit", 20, type=int)
        after = request.args.get("after", type=int)
        stmt = db.select(*columns).order_by(Item.id).limit(limit)
        if after is not None:
            stmt = stmt.where(Item.id > after)
        return jsonify(rows(stmt))

    @app.get("/items/<int:item_id>")
    def item(item_id: int):
        """One row by primary key, as a list of one like pgfront's ?id=eq.N."""
        return jsonify(rows(db.select(*columns).where(Item.id == item_id)))

    @app.get("/categories/<int:category_id>/items")
    def category_items(category_id: int):
        """A category's newest rows."""
        limit = request.args.get("limit", 20, type=int)
        stmt = (
            db.select(*columns)
            .where(Item.category_id == category_id)
            .order_by(Item.created_at.desc())
            .limit(limit)
        )
        return jsonify(rows(stmt))

    @app.get("/items-with-category")
    def items_with_category():
        """The first rows by id, each with its category as a nested object (one JOIN)."""
        limit = request.args.get("limit", 20, type=int)
        stmt = (
            db.select(*columns, Category.id.label("c_id"), Category.name.label("c_name"))
            .join(Category, Category.id == Item.category_id)
            .order_by(Item.id)
            .limit(limit)
        )
        result = []
        for row in rows(stmt):
            row["categories"] = {"id": row.pop("c_id"), "name": row.pop("c_name")}
            result.append(row)
        return jsonify(result)

    @app.post("/items")
    def create_item():
        """Insert one row from a JSON object; 201 with no body."""
        db.session.add(Item(**request.get_json()))
        db.session.commit()
        return "", 201

    return app


if __name__ == "__main__":
    from .serving import serve

    serve(create_app, "The Flask-SQLAlchemy peer of the benchmarks.")
