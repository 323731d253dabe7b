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


def test_not_ready_when_the_anon_role_can_no_longer_be_used(make_app, login_role, engine):
    login, url = login_role("web_anon")
    app = make_app(
        DATABASE_URL=url.render_as_string(hide_password=False),
        DB_ANON_ROLE="web_anon",
        DB_SCHEMAS="public",  # the only schema such a login may look into
    )
    client = app.test_client()
    assert client.get("/ready").status_code == 200
    with engine.begin() as conn:
        conn.exec_driver_sql(f"REVOKE web_anon FROM {login}")
    response = client.get("/ready")
    assert response.status_code == 503 and response.json["status"] == "not ready"
    assert response.json["database"] == "ok"
    assert response.json["anon_role"] == (
        f"the login role {login} cannot switch to web_anon (permission denied to set role "
        f'"web_anon"): GRANT web_anon TO {login}'
    )
