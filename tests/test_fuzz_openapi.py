"""Fuzz every JSON endpoint from the server's own OpenAPI document (schemathesis).

For each operation schemathesis generates valid and invalid requests (bodies, query strings,
path parameters) and sends them, signed in as an admin, through the WSGI interface. Every
answer must hold: no 5xx; a response whose status the document describes matches the
documented schema and content type; a request the document calls invalid is refused with a
4xx; and every error is the contract's envelope.

``FUZZ_EXAMPLES`` sets the examples per operation (CI: the default; a deeper run:
``FUZZ_EXAMPLES=500 pytest tests/test_fuzz_openapi.py``).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config._checks import NegativeDataRejectionConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from server import create_app
from tests.factories import household, put, registration

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))


def operation_cases() -> list[tuple[str, GenerationMode]]:
    """``METHOD /path`` of every documented operation, with the modes worth generating for it.

    Read from a throwaway app at collection time. Invalid requests (negative mode) are only
    generated where there is something to make invalid: a body or query parameters.
    """
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 40})
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    cases = []
    for path, item in doc["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method not in item:
                continue
            operation = item[method]
            label = f"{method.upper()} {path}"
            cases.append((label, GenerationMode.POSITIVE))
            params = operation.get("parameters", []) + item.get("parameters", [])
            if "requestBody" in operation or any(p["in"] == "query" for p in params):
                cases.append((label, GenerationMode.NEGATIVE))
    return cases


@pytest.fixture
def api_schema(app):
    with app.app_context():  # something to find: a household and a registration in scope
        hh = put("households", household())
        put("registrations", registration(hh))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # An invalid body may also be refused for its size before it is parsed (server/bodies.py):
    # a string past its maxLength, JSON-escaped, can outgrow a small route's byte limit.
    rejection = NegativeDataRejectionConfig()
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    schema.config.checks.negative_data_rejection = rejection
    return schema


def error_is_the_envelope(ctx, response, case) -> bool | None:
    """Every 4xx/5xx is {"error": {"code": snake_case, "message": text, "details": object}}."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, f"not the envelope: {body!r}"
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, f"envelope fields: {error!r}"
    assert isinstance(error["code"], str) and error["code"].replace("_", "").isalpha()
    assert error["code"] == error["code"].lower()
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return None


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    negative_data_rejection,
    error_is_the_envelope,
]


@pytest.mark.parametrize(("label", "mode"), operation_cases(), ids=lambda v: str(v))
def test_every_endpoint_survives_generated_requests(api_schema, auth, label, mode):
    # Uncompressed answers: schemathesis' WSGI calls advertise zstd/br/gzip like requests but
    # read the body as sent (compression has its own tests, tests/test_compression.py).
    headers = {**auth.headers("admin"), "Accept-Encoding": "identity"}
    operation = next(op.ok() for op in api_schema.get_all_operations() if op.ok().label == label)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases every CI run: a failure here is reproducible
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
