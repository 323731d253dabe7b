"""Response security headers and the request body cap."""

from __future__ import annotations

from flask import Flask, Response

from ..config import Settings

# Pages use an inline <style> and one small script of our own (static/); the API's JSON is never a document to render.
_PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", _PAGE_POLICY),
)


def install(app: Flask, settings: Settings) -> None:
    """Cap request bodies (413 beyond MAX_BODY_BYTES) and add security headers to every response."""
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes

    @app.after_request
    def _security_headers(response: Response) -> Response:
        present = {name.lower() for name, _ in response.headers}  # one pass, not one per header
        response.headers.extend(
            [(name, value) for name, value in _HEADERS if name.lower() not in present]
        )
        return response
