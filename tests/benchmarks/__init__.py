"""Benchmarks of pgfront against a bare psycopg app and a Flask-SQLAlchemy app (see README.md)."""
