"""Every error, for every endpoint, is the contract's JSON envelope."""

import pytest

from server import create_app


def envelope(resp, status, code):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def test_401_without_a_token(client):
    envelope(client.get("/api/v1/units"), 401, "unauthorized")


def test_403_for_a_role_that_may_not(client, auth):
    envelope(client.get("/api/v1/users", headers=auth.headers("collaborator")), 403, "forbidden")


def test_404_for_an_unknown_path(client):
    envelope(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_405_for_a_wrong_method(client):
    err = envelope(client.delete("/api/v1/auth/token"), 405, "method_not_allowed")
    assert err


def test_413_for_an_oversized_body(app, client):
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    resp = client.post("/api/v1/auth/token", data=big, content_type="application/json")
    envelope(resp, 413, "payload_too_large")


def test_422_names_the_fields(client):
    err = envelope(client.post("/api/v1/auth/token", json={"username": "x"}), 422, "validation_error")
    assert "password" in err["details"]


def test_422_refuses_unknown_fields(client):
    err = envelope(
        client.post("/api/v1/auth/token", json={"username": "x", "password": "y", "admin": True}),
        422,
        "validation_error",
    )
    assert "admin" in err["details"]


def test_a_malformed_json_body_is_an_error_not_a_crash(client):
    resp = client.post("/api/v1/auth/token", data=b"{not json", content_type="application/json")
    assert resp.status_code in (400, 422)
    assert "error" in resp.get_json()


@pytest.fixture
def crashing_app(app):
    """A second app on the same database, with a route that fails like a bug would."""
    keys = ("TESTING", "SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "ATTACHMENT_DIR")
    other = create_app({k: app.config[k] for k in keys})

    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    other.add_url_rule("/api/v1/test-boom", "boom", boom)
    return other


def test_500_logs_and_leaks_nothing(crashing_app, caplog):
    client = crashing_app.test_client()
    err = envelope(client.get("/api/v1/test-boom"), 500, "internal_error")
    assert "secret" not in err["message"] and "passwd" not in str(err)
    assert any("secret internals" in r.getMessage() or r.exc_info for r in caplog.records)


def test_openapi_document_has_full_paths(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/auth/token" in doc["paths"]
    assert all(path.startswith("/api/v1/") for path in doc["paths"])


def family_app():
    """A bare app with two route families: each answers its errors in the shape it registered."""
    from flask import Blueprint, Flask

    from server.errors import APIError, register_error_handlers, register_error_shape
    from sync.errors import LockedRecordError, OutOfScopeError

    app = Flask("families")
    xml = Blueprint("xml", __name__, url_prefix="/v1")

    @xml.route("/form")
    def form():
        raise APIError("forbidden")

    @xml.route("/hidden")
    def hidden():
        raise OutOfScopeError("household 7 lies in another commune")

    plain = Blueprint("plain", __name__, url_prefix="/api")

    @plain.route("/locked")
    def locked():
        raise LockedRecordError("decided", {"status": "approved"})

    class AccountRule(ValueError):  # a Flask-free module's refusal names its code
        code = "validation_error"

    @plain.route("/account")
    def account():
        raise AccountRule("unit 999 does not exist")

    app.register_blueprint(xml)
    app.register_blueprint(plain)
    register_error_handlers(app)
    register_error_shape(app, "/v1/", lambda err: app.response_class(f"<e>{err.code}</e>"), blueprint="xml")
    register_error_shape(app, "/v1/key/", lambda err: app.response_class(f"<k>{err.code}</k>"))
    return app.test_client()


def test_each_family_answers_in_the_shape_it_registered():
    client = family_app()
    resp = client.get("/v1/form")
    assert (resp.status_code, resp.get_data(as_text=True)) == (403, "<e>forbidden</e>")
    # No route matched: the longest registered prefix decides.
    assert client.get("/v1/nothing").get_data(as_text=True) == "<e>not_found</e>"
    assert client.get("/v1/key/abc/nothing").get_data(as_text=True) == "<k>not_found</k>"
    # Everyone else: the envelope, the engine's typed refusal by its own code and details.
    err = envelope(client.get("/api/locked"), 409, "locked")
    assert err["details"] == {"status": "approved"}
    envelope(client.get("/api/none"), 404, "not_found")
    refusal = envelope(client.get("/api/account"), 422, "validation_error")
    assert refusal["message"] == "unit 999 does not exist"


def test_out_of_scope_is_answered_as_not_found_without_its_message():
    resp = family_app().get("/v1/hidden")
    assert (resp.status_code, resp.get_data(as_text=True)) == (404, "<e>not_found</e>")


def test_the_error_writer_knows_no_route_family():
    """The shapes belong to the families: server/errors.py imports none of them."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path("server/errors.py").read_text())
    nodes = list(ast.walk(tree))
    imported = {node.module for node in nodes if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in nodes if isinstance(node, ast.Import) for alias in node.names}
    families = ("server.odk", "server.openrosa", "server.central", "server.web")
    assert not [name for name in imported if name and name.startswith(families)]
