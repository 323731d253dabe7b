"""The two apps pgfront is measured against: bare Flask + psycopg, and Flask-SQLAlchemy."""
