"""Response security headers and the request body cap."""

from __future__ import annotations

from flask import Flask, Response

from .config import Settings

# Pages use an inline <style> and one small script of our own (static/); the API's JSON is never a document to render.
_PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


def install(app: Flask, settings: Settings) -> None:
    """Cap request bodies (413 beyond MAX_BODY_BYTES) and add security headers to every response."""
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", _PAGE_POLICY)
        return response
