"""/live and /ready."""


def test_live(client):
    response = client.get("/live")
    assert response.status_code == 200 and response.json == {"status": "alive"}


def test_ready_reports_database_and_catalog(client):
    body = client.get("/ready").json
    assert body["status"] == "ready" and body["database"] == "ok"
    assert body["catalog"]["relations"] > 10
    assert body["catalog"]["schemas"] == ["public", "reporting"]


def test_not_ready_when_database_unreachable(make_app):
    app = make_app()
    state = app.extensions["pgfront"]
    good = state.engine
    # An engine that points at a closed port: what /ready sees when the database is gone.
    from db.engine import EngineOptions, make_engine

    state.engine = make_engine(
        good.url.set(host="127.0.0.1", port=1), EngineOptions(connect_timeout=1)
    )
    try:
        response = app.test_client().get("/ready")
    finally:
        state.engine.dispose()
        state.engine = good
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json["status"] == "not ready"
    assert response.json["database"] == "unreachable"
