"""Serve a peer app with waitress, announcing its port the way run.py does."""

from __future__ import annotations

import argparse
import os

from flask import Flask
from waitress import create_server


def serve(create_app, description: str) -> None:
    """Parse --port/--threads, build the app on DATABASE_URL and serve it until killed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    app: Flask = create_app(os.environ["DATABASE_URL"])
    server = create_server(app, host="127.0.0.1", port=args.port, threads=args.threads)
    print(f"Serving on http://127.0.0.1:{server.effective_port}/", flush=True)
    server.run()
