"""The request's automap classes: current_models(), named by the app's MODEL_NAMING hook."""

from __future__ import annotations

from flask import current_app

from db.models import Models

from .state import current_catalog


def current_models() -> Models:
    """Automap classes of this request's catalog snapshot (new ones after each schema reload).

    Names follow `db.models.ModelNaming`, or the instance given as MODEL_NAMING in
    create_app's config: create_app({"MODEL_NAMING": MyNaming()}).
    """
    return current_catalog().models(current_app.config.get("MODEL_NAMING"))
