"""Hostile input: whatever a broken phone or a curious person sends, the answer is a 4xx in the
contract's envelope (or a per-change ``rejected``), never a 500, and nothing is stored wrongly.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder, run_wsgi_app

from server.extensions import db
from server.models import Household, RecordVersion
from tests.factories import household, payout, put, registration, support_item
from tests.phones import Phone, change, statuses

OUTSIDER = "Nguyễn Văn Ngoài-Phạm-Vi"  # a household head in a commune the caller may not see
HOSTILE_TEXT = [
    "' OR '1'='1",
    "1; DROP TABLE households; --",
    '" OR ""="',
    "%",
    "_",
    "\\",
    "*",
    "20920' --",
    "𝕏" * 3,
    "a" * 5000,
]


def envelope(resp) -> dict:
    assert resp.status_code < 500, resp.get_data(as_text=True)[:500]
    body = resp.get_json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["details"], dict)
    return body["error"]


def push(client, headers, batch, **envelope_fields):
    body = {"device_id": "phone-x", "batch_id": str(uuid.uuid4()), "changes": batch, **envelope_fields}
    return client.post("/api/v1/sync/push", json=body, headers=headers)


def count(app, model) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


# -- bodies that are not the JSON the contract speaks -----------------------------------------
POSTS = ["/api/v1/auth/token", "/api/v1/sync/push", "/api/v1/auth/refresh"]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than Python's recursion limit
        b'{"a":' * 200 + b"1" + b"}" * 200,  # deep enough to hurt code that walks it
        b'{"username": NaN, "password": Infinity}',  # not JSON (RFC 8259), yet Python parses it
        b"\xff\xfe\x00garbage",
        b'{"username": "a", "password": ',
    ],
    ids=["nested-100k", "nested-200", "nan", "bad-utf8", "truncated"],
)
def test_malformed_json_is_400_in_the_envelope(client, auth, path, raw):
    resp = client.post(path, data=raw, content_type="application/json", headers=auth.headers("collaborator"))
    if path != "/api/v1/sync/push" and len(raw) > 16 * 1024:
        # More than a login or a refresh ever takes: refused unread (tests/test_request_bodies.py).
        assert resp.status_code == 413 and envelope(resp)["code"] == "payload_too_large"
        return
    assert resp.status_code == 400
    assert envelope(resp)["code"] == "bad_request"


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"null", b"42"])
def test_json_that_is_not_an_object_is_422(client, auth, path, raw):
    resp = client.post(path, data=raw, content_type="application/json", headers=auth.headers("collaborator"))
    assert resp.status_code == 422 and envelope(resp)["code"] == "validation_error"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_wrong_content_type_is_a_4xx_envelope(client, auth, content_type):
    body = json.dumps({"device_id": "p", "batch_id": str(uuid.uuid4()), "changes": []})
    resp = client.post(
        "/api/v1/sync/push", data=body, content_type=content_type, headers=auth.headers("collaborator")
    )
    assert resp.status_code in (400, 415, 422)
    envelope(resp)


def test_a_nul_character_anywhere_in_a_body_is_refused_before_the_database_sees_it(app, client, auth):
    headers = auth.headers("collaborator")
    resp = push(
        client, headers, [change("households", str(uuid.uuid4()), household(head_name="A\x00B"), None)]
    )
    assert resp.status_code in (400, 422)
    envelope(resp)
    resp = push(client, headers, [], device_id="phone\x00")
    assert resp.status_code in (400, 422)
    envelope(resp)
    assert count(app, RecordVersion) == 0


def test_a_chunked_push_over_5_mib_is_413_without_a_content_length(app, auth):
    """Behind gunicorn a chunked upload has no Content-Length; the 5 MiB limit must still hold."""
    body = json.dumps(
        {"device_id": "p", "batch_id": str(uuid.uuid4()), "changes": [], "pad": "x" * (5 << 20)}
    ).encode()
    environ = EnvironBuilder(
        path="/api/v1/sync/push", method="POST", headers=auth.headers("collaborator")
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update(
        {
            "CONTENT_TYPE": "application/json",
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,  # what gunicorn says of a de-chunked body
        }
    )
    app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
    payload = json.loads(b"".join(app_iter))
    assert status.startswith("413"), payload
    assert payload["error"]["code"] == "payload_too_large"


# -- the push envelope --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("change_id", "not-a-uuid"),
        ("change_id", "' OR 1=1 --"),
        ("id", "../../etc/passwd"),
        ("id", "123e4567-e89b-12d3-a456-42661417400G"),
        ("id", 12345),
        ("entity", "users"),
        ("entity", "households; DROP TABLE audit_log"),
        ("op", "drop"),
        ("base_version", 0),
        ("base_version", -1),
        ("base_version", "1"),
        ("base_version", 1.5),
        ("base_version", True),
        ("base_version", 2**70),
        ("data", "not an object"),
        ("data", [1, 2]),
        ("client_time", "yesterday"),
        ("client_time", "2020-05-02T08:15:00"),  # no offset
        ("surprise", 1),  # unknown field
    ],
)
def test_a_malformed_change_is_422_naming_it(app, client, auth, field, value):
    bad = change("households", str(uuid.uuid4()), household(), None)
    bad[field] = value
    resp = push(client, auth.headers("collaborator"), [bad])
    assert resp.status_code == 422
    err = envelope(resp)
    assert err["code"] == "validation_error"
    assert field in json.dumps(err["details"])
    assert count(app, RecordVersion) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("batch_id", "batch-1"),
        ("batch_id", None),
        ("device_id", ""),
        ("device_id", "d" * 101),
        ("device_id", 7),
        ("changes", {"0": {}}),
        ("changes", "[]"),
    ],
)
def test_a_malformed_batch_envelope_is_422(client, auth, field, value):
    resp = push(client, auth.headers("collaborator"), [], **{field: value})
    assert resp.status_code == 422 and field in envelope(resp)["details"]


# -- record data: each bad change is rejected on its own, naming the field ------------------------
BAD_HOUSEHOLD_FIELDS = [
    ("members", "5"),
    ("members", 5.0),
    ("members", True),
    ("members", 0),
    ("members", -3),
    ("members", 10**30),
    ("ethnic_minority", "yes"),
    ("ethnic_minority", 1),
    ("latitude", "16.1"),
    ("latitude", 91),
    ("category", "rich"),
    ("category", ["poor"]),
    ("head_name", ""),
    ("head_name", "   "),
    ("head_name", "x" * 100_000),  # a huge string
    ("head_name", {"$ne": None}),
    ("notes", "n" * 2001),
    ("commune_code", None),
    ("surprise", "unknown fields are errors"),
]


@pytest.mark.parametrize(("field", "value"), BAD_HOUSEHOLD_FIELDS)
def test_bad_household_data_is_rejected_alone(app, client, auth, field, value):
    headers = auth.headers("collaborator")
    good = change("households", str(uuid.uuid4()), household(), None)
    bad = change("households", str(uuid.uuid4()), household(**{field: value}), None)
    resp = push(client, headers, [bad, good])
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    assert statuses(body) == ["rejected", "applied"]
    assert field in body["results"][0]["errors"]["details"]
    assert count(app, Household) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("signed_on", "2020-02-30"),
        ("signed_on", "2019-02-29"),
        ("signed_on", "2020-13-01"),
        ("signed_on", "2020-2-3"),
        ("signed_on", "20200315"),
        ("signed_on", 20200315),
        ("signed_on", "2020-03-15T00:00:00"),
        ("household_id", "not-a-uuid"),
        ("household_id", "' OR 1=1 --"),
        ("year", 1999),
        ("year", "2020"),
        ("needs", "livestock"),
        ("needs", ["livestock", "livestock"]),
        ("needs", ["gold"]),
        ("commitment", "true"),
    ],
)
def test_bad_registration_data_is_rejected_naming_the_field(client, auth, field, value):
    phone = Phone(client, auth.headers("collaborator"))
    hh = phone.create("households", household())
    data = registration(hh)
    for server_field in ("status", "submitted_at", "decided_by", "decided_at", "decision_note"):
        data.pop(server_field)
    data[field] = value
    phone.create("registrations", data)
    result = phone.push()["results"]
    assert [r["status"] for r in result] == ["applied", "rejected"]
    assert field in result[1]["errors"]["details"]


def test_a_leap_day_is_a_real_date(client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    hh = phone.create("households", household())
    data = {k: v for k, v in registration(hh, signed_on="2020-02-29").items() if k != "status"}
    for server_field in ("submitted_at", "decided_by", "decided_at", "decision_note"):
        data.pop(server_field)
    phone.create("registrations", data)
    assert statuses(phone.push()) == ["applied", "applied"]


@pytest.mark.parametrize("amount", [-1, -5_000_000, 1.5, "5000000", 10**14])
def test_negative_or_malformed_money_is_rejected(client, auth, amount):
    phone = Phone(client, auth.headers("collaborator"))
    hh = phone.create("households", household())
    reg_data = {
        k: v
        for k, v in registration(hh).items()
        if k not in ("status", "submitted_at", "decided_by", "decided_at", "decision_note")
    }
    reg = phone.create("registrations", reg_data)
    phone.sync()
    officer = Phone(client, auth.headers("district_officer"))
    officer.create("payouts", payout(hh, reg, amount_vnd=amount))
    officer.create("support_items", support_item(hh, reg, amount_vnd=amount))
    result = officer.push()["results"]
    assert [r["status"] for r in result] == ["rejected", "rejected"]
    assert all("amount_vnd" in r["errors"]["details"] for r in result)


def test_sql_metacharacters_in_text_are_stored_and_returned_verbatim(app, client, auth):
    phone = Phone(client, auth.headers("collaborator"))
    ids = {
        phone.create("households", household(head_name=text[:200], notes=text[:2000])): text
        for text in HOSTILE_TEXT
    }
    assert set(statuses(phone.sync())) == {"applied"}
    for record_id, text in ids.items():
        assert phone.get("households", record_id)["data"]["head_name"] == text[:200]
    assert count(app, Household) == len(HOSTILE_TEXT)  # the table is still there, and whole


# -- filters and path parameters --------------------------------------------------------------------
def list_endpoints(client) -> list[tuple[str, list[str]]]:
    """Every GET path without path parameters and its query parameters, from the OpenAPI document."""
    doc = client.get("/api/v1/openapi.json").get_json()
    found = []
    for path, item in doc["paths"].items():
        get = item.get("get")
        if get is None or "{" in path:
            continue
        params = [
            p["name"] for p in get.get("parameters", []) + item.get("parameters", []) if p["in"] == "query"
        ]
        if params:
            found.append((path, params))
    return found


def test_sql_metacharacters_in_every_filter_are_harmless(app, client, auth):
    """Every query parameter of every list, fed injection strings: a 4xx envelope or an honest
    answer, never a 500, never a record from outside the caller's units."""
    with app.app_context():
        put("households", household(commune_code="20923", head_name=OUTSIDER))
    headers = auth.headers("collaborator")
    endpoints = list_endpoints(client)
    assert len(endpoints) >= 5, endpoints  # the document lists the filters we attack
    for path, params in endpoints:
        for name in params:
            for value in HOSTILE_TEXT + ["\x00", "%00", "-1", "99999999999999999999", ""]:
                resp = client.get(path, query_string={name: value}, headers=headers)
                where = f"{path}?{name}={value[:40]!r}"
                assert resp.status_code < 500, f"{where}: {resp.get_data(as_text=True)[:300]}"
                if resp.status_code >= 400:
                    envelope(resp)
                assert OUTSIDER not in resp.get_data(as_text=True), where
    assert count(app, Household) == 1


@pytest.mark.parametrize("entity", ["households", "registrations", "support_items", "payouts"])
@pytest.mark.parametrize("record_id", ["' OR '1'='1", "..%2F..%2Fetc", "0", "%25", "a" * 300])
def test_hostile_ids_in_paths_are_404(client, auth, entity, record_id):
    resp = client.get(f"/api/v1/{entity}/{record_id}", headers=auth.headers("supervisor"))
    assert resp.status_code == 404 and envelope(resp)["code"] == "not_found"


@pytest.mark.parametrize(
    "url", ["/api/v1/households/%00", "/api/v1/households?unit=20920%00", "/api/v1/sync/pull?cursor=%00"]
)
def test_a_nul_in_the_url_is_400(client, auth, url):
    resp = client.get(url, headers=auth.headers("collaborator"))
    assert resp.status_code == 400 and envelope(resp)["code"] == "bad_request"


# -- exports: text a person typed never runs as a spreadsheet formula ----------------------------------
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_neutralise_formulas_in_names_people_typed(app, client, auth, fmt):
    """A collaborator account named like a formula, silent for months, in the delays download."""
    for name in FORMULAS:
        auth.user("collaborator", username=name)
    as_of = (date.today() + timedelta(days=90)).isoformat()
    resp = client.get(
        f"/api/v1/delays?as_of={as_of}&kind=collaborator_silent&format={fmt}",
        headers=auth.headers("supervisor"),
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    if fmt == "csv":
        cells = [c for row in csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))) for c in row]
        for name in FORMULAS:
            assert "'" + name in cells and name not in cells
    else:
        sheet = load_workbook(io.BytesIO(resp.data)).active
        cells = [c for row in sheet.iter_rows() for c in row if c.value in FORMULAS]
        assert len(cells) == len(FORMULAS)  # exactly as typed, and stored as text, not formulas
        assert all(c.data_type == "s" for c in cells)


# -- ODK Central's routes (pyodk): raw XML and OData parameters ------------------------------------------
XXE_RAW = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<data id="exit_registration"><head_name>&secret;</head_name>
<meta><instanceID>uuid:5d0c9f0e-3c11-4a57-9a55-0e2b8f1e7a61</instanceID></meta></data>"""


def test_central_raw_xml_with_entities_is_refused_and_leaks_nothing(client, auth):
    resp = client.post(
        "/v1/projects/1/forms/exit_registration/submissions",
        data=XXE_RAW,
        content_type="application/xml",
        headers=auth.headers("collaborator"),
    )
    assert 400 <= resp.status_code < 500
    assert b"root:" not in resp.data


@pytest.mark.parametrize(
    "query",
    [
        "$top=-1",
        "$top=99999999999999999999",
        "$skip=abc",
        "$filter=__system/submissionDate gt '2020-01-01' or 1=1",
        "$filter='; DROP TABLE odk_instances; --",
        "$filter=__system/submissionDate gt 2020-02-30T00:00:00Z",
        "$count=maybe",
    ],
)
def test_odata_parameters_never_crash_the_server(client, auth, query):
    resp = client.get(
        f"/v1/projects/1/forms/exit_registration.svc/Submissions?{query}", headers=auth.headers("admin")
    )
    assert resp.status_code < 500, resp.get_data(as_text=True)[:300]


def test_a_nul_in_a_form_or_in_basic_credentials_is_400_not_a_database_error(app, auth):
    name = auth.user("commune_official")
    browser = app.test_client()
    browser.get("/web/login")
    with browser.session_transaction() as session:
        csrf = session.get("csrf_token", "")
    resp = browser.post("/web/login", data={"username": name + "\x00", "password": "x", "csrf_token": csrf})
    assert resp.status_code == 400
    basic = base64.b64encode(f"{name}\x00:x".encode()).decode()
    resp = browser.get(
        "/v1/projects/1/formList", headers={"Authorization": f"Basic {basic}", "X-OpenRosa-Version": "1.0"}
    )
    assert resp.status_code == 400
