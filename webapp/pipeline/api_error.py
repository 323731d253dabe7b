"""ApiError: a failure with an HTTP status and PostgREST's error shape.

The pipeline raises it without knowing Flask; webapp/errors.py (which re-exports it) turns it
into a response.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error with a status and PostgREST's error shape; views raise it, handlers render it."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: str | list[dict] | None = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or f"HTTP{status}"
        self.details = details
        self.hint = hint
        self.headers = headers or {}

    def body(self) -> dict:
        """The JSON body, in PostgREST's shape."""
        return {
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "hint": self.hint,
        }
