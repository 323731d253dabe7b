"""Database layer: the engine, the reflected catalog, the scoped Session, sql/ files, embedded server.

Nothing here imports Flask, and nothing connects or reflects at import time.
"""
