"""Who may do what, where: every endpoint x every role x inside and outside the caller's units.

Each ``Route`` below names a request and the status each role must get for a target inside
its units (Trà Đốc commune 20920, Bắc Trà My district 515) and outside them (Phường Tân Thạnh,
20335, in Tam Kỳ). Supervisors and admins cover the whole province, so nothing is outside for
them. A ``HIDDEN`` cell means 200 with nothing of the other unit in the body (lists that filter
instead of refusing). Any 2xx answer to a caller outside a unit must not carry that unit's data.

A new route is one more ``Route(...)`` line; ``test_every_route_is_in_the_matrix`` fails until
it is added, so the matrix cannot fall behind the app.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.conftest import PASSWORD
from tests.factories import household, payout, put, registration, support_item
from tests.phones import Phone

INSIDE, OUTSIDE = "20920", "20335"
ROLES = ("anonymous", "collaborator", "commune_official", "district_officer", "supervisor", "admin")
SIGNED_IN = ROLES[1:]
PROVINCE_WIDE = ("supervisor", "admin")
HIDDEN = "hidden"  # 200, and the other unit's records are not in it
ODK = {"X-OpenRosa-Version": "1.0"}


class World:
    """Users of every role at home, and records (with their ids) in both communes."""

    def __init__(self, app, client, auth):
        self.app, self.client, self.auth = app, client, auth
        self.usernames = {role: auth.user(role) for role in SIGNED_IN}
        self.headers = {"anonymous": {}}
        for role, name in self.usernames.items():
            self.headers[role] = auth.headers(username=name)
        self.records = {place: self.seed(place) for place in (INSIDE, OUTSIDE)}

    def seed(self, commune: str) -> dict[str, str]:
        with self.app.app_context():
            hh = put("households", household(commune_code=commune, head_name=f"Chủ hộ {commune}"))
            reg = put("registrations", registration(hh), commune_code=commune)
            item = put("support_items", support_item(hh, reg), commune_code=commune)
            pay = put("payouts", payout(hh, reg), commune_code=commune)
        return {"households": hh, "registrations": reg, "support_items": item, "payouts": pay}

    def unit(self, place: str) -> str:
        return place

    def fresh_registration(self, place: str) -> str:
        with self.app.app_context():
            hh = put("households", household(commune_code=place))
            return put("registrations", registration(hh), commune_code=place)

    def fresh_conflict(self, place: str) -> str:
        """Two admin phones edit the same field of a household offline: one conflict."""
        admin = self.headers["admin"]
        a, b = Phone(self.client, admin), Phone(self.client, admin)
        hh = a.create("households", household(commune_code=place))
        a.sync()
        b.pull()
        a.edit("households", hh, members=7)
        b.edit("households", hh, members=9)
        a.sync()
        return b.sync()["results"][0]["conflict_id"]

    def fresh_duplicate(self, place: str) -> str:
        """Two households of the place with one code: an open possible duplicate."""
        admin = self.headers["admin"]
        phone = Phone(self.client, admin)
        code = f"DUP-{uuid.uuid4().hex[:8]}"
        pair = sorted(phone.create("households", household(commune_code=place, code=code)) for _ in range(2))
        phone.sync()
        items = self.client.get(f"/api/v1/duplicates?unit={place}&limit=1000", headers=admin).get_json()[
            "items"
        ]
        return next(item["id"] for item in items if item["households"] == pair)

    def other_ids(self, place: str) -> list[str]:
        return list(self.records[place].values())


@dataclass
class Route:
    """One request, and the expected status of each role inside and outside its units."""

    name: str
    method: str
    rule: str  # the Flask URL rule this request exercises
    path: Callable[[World, str], str] | str
    allowed: tuple[str, ...] = SIGNED_IN
    ok: int = 200
    outside: int | str | None = None  # None: the route has no place; else what scoped roles get
    denied: int = 403
    anonymous: int = 401
    body: Callable[[World, str], dict] | dict | None = None
    headers: Callable[[World, str], dict] | dict = field(default_factory=dict)

    def expected(self, role: str) -> tuple[int | str, int | str | None]:
        if role == "anonymous":
            return self.anonymous, None if self.outside is None else self.anonymous
        if role not in self.allowed:
            return self.denied, None if self.outside is None else self.denied
        if self.outside is None:
            return self.ok, None
        return self.ok, self.ok if role in PROVINCE_WIDE else self.outside

    def request(self, world: World, role: str, place: str):
        path = self.path(world, place) if callable(self.path) else self.path
        body = self.body(world, place) if callable(self.body) else self.body
        extra = self.headers(world, place) if callable(self.headers) else self.headers
        headers = {**world.headers[role], **extra}
        return world.client.open(path, method=self.method, json=body, headers=headers)


def record_path(entity: str) -> Callable[[World, str], str]:
    return lambda w, place: f"/api/v1/{entity}/{w.records[place][entity]}"


def with_unit(path: str) -> Callable[[World, str], str]:
    joiner = "&" if "?" in path else "?"
    return lambda w, place: f"{path}{joiner}unit={place}"


def decision_path(w: World, place: str) -> str:
    return f"/api/v1/registrations/{w.fresh_registration(place)}/decision"


def settle_path(w: World, place: str) -> str:
    return f"/api/v1/duplicates/{w.fresh_duplicate(place)}/settle"


def resolve_path(w: World, place: str) -> str:
    return f"/api/v1/conflicts/{w.fresh_conflict(place)}/resolve"


TUS = {"Tus-Resumable": "1.0.0"}
PHOTO_WRITERS = ("collaborator", "commune_official", "admin")


def upload_headers(w: World, place: str) -> dict:
    """A photo announced for the place's registration (tus creation)."""
    reg = base64.b64encode(w.records[place]["registrations"].encode()).decode()
    return {**TUS, "Upload-Length": "100", "Upload-Metadata": f"registration_id {reg}"}


def admins_upload(w: World, place: str) -> str:
    """An upload the admin began: its creator's alone, 404 to everyone else whatever the role."""
    resp = w.client.post("/api/v1/uploads", headers={**w.headers["admin"], **upload_headers(w, place)})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.headers["Location"]


def audit_path(w: World, place: str) -> str:
    return f"/api/v1/audit?entity=households&id={w.records[place]['households']}"


USER_RULE = "/api/v1/users/<string(maxlength=80):username>"


def user_path(w: World, place: str) -> str:
    """A user of its own for each request: a reset must not end the world's logins."""
    return f"/api/v1/users/{w.auth.user('collaborator')}"


ENTITIES = ("households", "registrations", "support_items", "payouts")
AUDITORS = ("commune_official", "district_officer", "supervisor", "admin")
REPORT_READERS = ("district_officer", "supervisor", "admin")
EMPTY_BATCH = {"device_id": "matrix", "batch_id": None, "changes": []}

ROUTES: list[Route] = [
    Route(
        "upload create",
        "POST",
        "/api/v1/uploads",
        "/api/v1/uploads",
        allowed=PHOTO_WRITERS,
        ok=201,
        outside=404,
        headers=upload_headers,
    ),
    Route(
        "upload offset",
        "HEAD",
        "/api/v1/uploads/<upload_id>",
        admins_upload,
        allowed=("admin",),
        denied=404,
        headers=TUS,
    ),
    Route(
        "upload append",
        "PATCH",
        "/api/v1/uploads/<upload_id>",
        admins_upload,
        allowed=("admin",),
        ok=204,
        denied=404,
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    ),
    Route("me", "GET", "/api/v1/auth/me", "/api/v1/auth/me"),
    Route("logout", "POST", "/api/v1/auth/logout", "/api/v1/auth/logout", ok=204, body={}),
    Route("units", "GET", "/api/v1/units", "/api/v1/units"),
    Route("users", "GET", "/api/v1/users", "/api/v1/users", allowed=PROVINCE_WIDE),
    Route(
        "create user",
        "POST",
        "/api/v1/users",
        "/api/v1/users",
        allowed=("admin",),
        ok=201,
        body=lambda w, p: {
            "username": f"new-{uuid.uuid4().hex[:8]}",
            "role": "collaborator",
            "unit": INSIDE,
            "password": "a new password",
        },
    ),
    Route("read user", "GET", USER_RULE, user_path, allowed=PROVINCE_WIDE),
    Route(
        "change user",
        "PATCH",
        USER_RULE,
        user_path,
        allowed=("admin",),
        body={"display_name": "Hồ Thị Mới"},
    ),
    Route(
        "reset password",
        "POST",
        USER_RULE + "/password",
        lambda w, p: user_path(w, p) + "/password",
        allowed=("admin",),
        ok=204,
        body={"password": "a new password"},
    ),
    Route(
        "own password",
        "POST",
        "/api/v1/auth/password",
        "/api/v1/auth/password",
        body={"current_password": PASSWORD, "new_password": "a new password"},
    ),
    Route(
        "push",
        "POST",
        "/api/v1/sync/push",
        "/api/v1/sync/push",
        body=lambda w, p: {**EMPTY_BATCH, "batch_id": str(uuid.uuid4())},
    ),
    Route("pull", "GET", "/api/v1/sync/pull", "/api/v1/sync/pull"),
    *[Route(f"list {e}", "GET", f"/api/v1/{e}", with_unit(f"/api/v1/{e}"), outside=404) for e in ENTITIES],
    *[
        Route(f"read {e}", "GET", f"/api/v1/{e}/<string:record_id>", record_path(e), outside=404)
        for e in ENTITIES
    ],
    Route("conflicts", "GET", "/api/v1/conflicts", with_unit("/api/v1/conflicts"), outside=HIDDEN),
    Route(
        "resolve",
        "POST",
        "/api/v1/conflicts/<string:conflict_id>/resolve",
        resolve_path,
        allowed=("commune_official", "district_officer", "supervisor", "admin"),
        outside=404,
        body={"resolution": "keep_server"},
    ),
    Route(
        "duplicates",
        "GET",
        "/api/v1/duplicates",
        with_unit("/api/v1/duplicates"),
        allowed=AUDITORS,
        outside=404,
    ),
    Route(
        "settle duplicate",
        "POST",
        "/api/v1/duplicates/<string:case_id>/settle",
        settle_path,
        allowed=("commune_official", "admin"),
        outside=404,
        body={"decision": "distinct"},
    ),
    Route(
        "decision",
        "POST",
        "/api/v1/registrations/<string:registration_id>/decision",
        decision_path,
        allowed=("commune_official", "admin"),
        outside=404,
        body={"decision": "approve", "note": "", "version": 1},
    ),
    Route(
        "delays",
        "GET",
        "/api/v1/delays",
        with_unit("/api/v1/delays?as_of=2020-10-01"),
        allowed=AUDITORS,
        outside=404,
    ),
    Route(
        "activity", "GET", "/api/v1/activity", with_unit("/api/v1/activity"), allowed=AUDITORS, outside=404
    ),
    Route("audit", "GET", "/api/v1/audit", audit_path, allowed=AUDITORS, outside=HIDDEN),
    Route(
        "exit report",
        "GET",
        "/api/v1/reports/exit-registrations",
        "/api/v1/reports/exit-registrations?year=2020",
        allowed=REPORT_READERS,
    ),
    Route(
        "payout report",
        "GET",
        "/api/v1/reports/payouts",
        "/api/v1/reports/payouts?year=2020",
        allowed=REPORT_READERS,
    ),
    # The receipt key is public: a phone or an auditor checks receipts with it.
    Route("receipt key", "GET", "/api/v1/receipt-key", "/api/v1/receipt-key", anonymous=200),
    Route(
        "audit csv",
        "GET",
        "/api/v1/audit",
        lambda w, place: audit_path(w, place) + "&format=csv",
        allowed=AUDITORS,
        outside=HIDDEN,
    ),
    Route("device tokens", "GET", "/api/v1/device-tokens", "/api/v1/device-tokens", allowed=("admin",)),
    Route(
        "issue device token",
        "POST",
        "/api/v1/device-tokens",
        "/api/v1/device-tokens",
        allowed=("admin",),
        ok=201,
        body=lambda w, p: {"username": w.usernames["collaborator"], "label": "matrix"},
    ),
    Route(
        "revoke device token",
        "DELETE",
        "/api/v1/device-tokens/<int(max=2147483647):token_id>",
        "/api/v1/device-tokens/999999",
        allowed=("admin",),
        ok=404,
    ),
    # ODK: OpenRosa (Collect, Enketo) and the Central API subset (pyodk); a Bearer token works
    # there too. Central-shaped errors are not the envelope, so only statuses are checked.
    Route("odk formList", "GET", "/v1/projects/1/formList", "/v1/projects/1/formList", headers=ODK),
    Route(
        "odk form",
        "GET",
        "/v1/projects/1/forms/<form_id>.xml",
        "/v1/projects/1/forms/exit_registration.xml",
        headers=ODK,
    ),
    Route(
        "odk submission probe",
        "HEAD",
        "/v1/projects/1/submission",
        "/v1/projects/1/submission",
        ok=204,
        headers=ODK,
    ),
    Route("central current user", "GET", "/v1/users/current", "/v1/users/current"),
    Route("central projects", "GET", "/v1/projects", "/v1/projects"),
    Route("central project", "GET", "/v1/projects/<int:project_id>", "/v1/projects/1"),
    Route("central forms", "GET", "/v1/projects/<int:project_id>/forms", "/v1/projects/1/forms"),
    Route(
        "central form",
        "GET",
        "/v1/projects/<int:project_id>/forms/<form_id>",
        "/v1/projects/1/forms/exit_registration",
    ),
    Route(
        "central odata",
        "GET",
        "/v1/projects/<int:project_id>/forms/<form_id>.svc/Submissions",
        "/v1/projects/1/forms/exit_registration.svc/Submissions",
    ),
    # ODK Central's entity API (pyodk): the entity lists, scoped like every read.
    Route("central datasets", "GET", "/v1/projects/<int:project_id>/datasets", "/v1/projects/1/datasets"),
    Route(
        "central dataset",
        "GET",
        "/v1/projects/<int:project_id>/datasets/<name>",
        "/v1/projects/1/datasets/households",
    ),
    *[
        Route(
            f"central entities {e}",
            "GET",
            "/v1/projects/<int:project_id>/datasets/<name>/entities",
            f"/v1/projects/1/datasets/{e}/entities",
            outside=HIDDEN,
        )
        for e in ENTITIES
    ],
    *[
        Route(
            f"central entity {e}",
            "GET",
            "/v1/projects/<int:project_id>/datasets/<name>/entities/<entity_id>",
            lambda w, place, e=e: f"/v1/projects/1/datasets/{e}/entities/{w.records[place][e]}",
            outside=404,
        )
        for e in ENTITIES
    ],
    *[
        Route(
            f"central entity odata {e}",
            "GET",
            "/v1/projects/<int:project_id>/datasets/<name>.svc/Entities",
            f"/v1/projects/1/datasets/{e}.svc/Entities",
            outside=HIDDEN,
        )
        for e in ENTITIES
    ],
    Route(
        "central entity create",
        "POST",
        "/v1/projects/<int:project_id>/datasets/<name>/entities",
        "/v1/projects/1/datasets/households/entities",
        allowed=("collaborator", "commune_official", "admin"),
        outside=404,
        body=lambda w, place: {"label": "x", "data": {**entity_strings(household(commune_code=place))}},
    ),
    Route(
        "central entity update",
        "PATCH",
        "/v1/projects/<int:project_id>/datasets/<name>/entities/<entity_id>",
        lambda w, place: (
            f"/v1/projects/1/datasets/households/entities/{w.records[place]['households']}?force=true"
        ),
        allowed=("collaborator", "commune_official", "admin"),
        outside=404,
        body={"data": {"members": "5"}},
    ),
    Route(
        "central app users",
        "GET",
        "/v1/projects/<int:project_id>/app-users",
        "/v1/projects/1/app-users",
        allowed=("admin",),
    ),  # fmt: skip
    Route(
        "central app user create",
        "POST",
        "/v1/projects/<int:project_id>/app-users",
        "/v1/projects/1/app-users",
        allowed=("admin",),
        body=lambda w, place: {"displayName": w.usernames["collaborator"]},
    ),
]


def entity_strings(data: dict) -> dict:
    """Record data as Central's entity API sends it: every property a string."""
    out = {}
    for key, value in data.items():
        if value is None:
            continue
        out[key] = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return out


def check_cell(world: World, route: Route, role: str, place: str, expected) -> str | None:
    """None when the cell holds; else a line saying what broke."""
    resp = route.request(world, role, place)
    want = 200 if expected == HIDDEN else expected
    label = f"{route.name} as {role} {'inside' if place == INSIDE else 'outside'}"
    if resp.status_code != want:
        return f"{label}: {resp.status_code}, expected {want}: {resp.get_data(as_text=True)[:160]}"
    if resp.status_code >= 400 and route.path and str(route.method) != "HEAD":
        body = resp.get_json(silent=True)
        if not route.name.startswith(("odk", "central")) and (not body or set(body) != {"error"}):
            return f"{label}: error not in the envelope: {resp.get_data(as_text=True)[:160]}"
    if resp.status_code < 300 and role not in PROVINCE_WIDE:
        text = resp.get_data(as_text=True)
        leaked = [rid for rid in world.other_ids(OUTSIDE) if rid in text]
        if leaked:
            return f"{label}: shows records of {OUTSIDE}: {leaked}"
    return None


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_access_matrix(app, client, auth, route):
    world = World(app, client, auth)
    broken = []
    for role in ROLES:
        inside, outside = route.expected(role)
        broken.append(check_cell(world, route, role, INSIDE, inside))
        if outside is not None:
            broken.append(check_cell(world, route, role, OUTSIDE, outside))
    assert [b for b in broken if b] == []


def test_inside_reads_really_show_the_record(app, client, auth):
    """The matrix's 200s are not empty answers: a collaborator sees its own commune's records."""
    world = World(app, client, auth)
    for entity in ENTITIES:
        resp = client.get(record_path(entity)(world, INSIDE), headers=world.headers["collaborator"])
        assert resp.get_json()["id"] == world.records[INSIDE][entity]
    pulled = client.get("/api/v1/sync/pull", headers=world.headers["collaborator"]).get_json()["changes"]
    assert {c["id"] for c in pulled} == set(world.records[INSIDE].values())


# -- who may write what, where: pushes are 200, each change says applied or rejected -------------
WRITES = {
    # role: (household inside, household outside, payout inside, payout outside)
    "collaborator": ("applied", "rejected", "rejected", "rejected"),
    "commune_official": ("applied", "rejected", "rejected", "rejected"),
    "district_officer": ("rejected", "rejected", "applied", "rejected"),
    "supervisor": ("rejected", "rejected", "rejected", "rejected"),
    "admin": ("applied", "applied", "applied", "applied"),
}


@pytest.mark.parametrize("role", list(WRITES))
def test_write_matrix(app, client, auth, role):
    world = World(app, client, auth)
    phone = Phone(client, world.headers[role])
    phone.create("households", household(commune_code=INSIDE))
    phone.create("households", household(commune_code=OUTSIDE))
    for place in (INSIDE, OUTSIDE):
        ids = world.records[place]
        phone.create("payouts", payout(ids["households"], ids["registrations"]))
    got = tuple(r["status"] for r in phone.push()["results"])
    assert got == WRITES[role]


# -- the web pages: a visitor is sent to log in; a role outside the page's list gets 403 ---------------
WEB_PAGES = {  # page -> roles that may open it
    "/web/": SIGNED_IN,
    "/web/approvals": ("commune_official", "admin"),
    "/web/conflicts": ("commune_official", "district_officer", "supervisor", "admin"),
    "/web/duplicates": ("commune_official", "admin"),
    "/web/dashboard": ("district_officer", "supervisor", "admin"),
    "/web/audit": ("district_officer", "supervisor", "admin"),
    "/web/households": ("commune_official", "district_officer", "supervisor", "admin"),
    "/web/downloads/exit-registrations?year=2020": ("district_officer", "supervisor", "admin"),
    "/web/downloads/payouts?year=2020": ("district_officer", "supervisor", "admin"),
    "/web/downloads/delays?as_of=2020-10-01": ("district_officer", "supervisor", "admin"),
    "/web/users": ("admin",),
    "/web/password": SIGNED_IN,
}
WEB_RECORD_PAGES = {
    "/web/households/{households}": ("commune_official", "district_officer", "supervisor", "admin"),
    "/web/registrations/{registrations}": SIGNED_IN,
}
WEB_RULES = [
    *(page.split("?")[0] for page in WEB_PAGES),
    "/web/households/<household_id>",
    "/web/registrations/<registration_id>",
]


def web_session(app, world: World, role: str):
    from tests.web.pages import PageSession

    return PageSession(app, world.usernames[role]).client


@pytest.mark.parametrize("role", ROLES)
def test_web_matrix(app, client, auth, role):
    world = World(app, client, auth)
    browser = app.test_client() if role == "anonymous" else web_session(app, world, role)
    broken = []

    def expect(url: str, allowed: tuple[str, ...], place: str | None = None) -> None:
        resp = browser.get(url)
        if role == "anonymous":
            ok = resp.status_code == 302 and "/web/login" in resp.headers.get("Location", "")
        elif role not in allowed:
            ok = resp.status_code == 403
        elif place == OUTSIDE and role not in PROVINCE_WIDE:
            ok = resp.status_code == 404
        else:
            ok = resp.status_code in (200, 302) and not (
                resp.status_code == 302 and "/web/login" in resp.headers.get("Location", "")
            )
        if not ok:
            broken.append(f"{url} as {role}: {resp.status_code}")
        if resp.status_code == 200 and role not in PROVINCE_WIDE and place != OUTSIDE:
            leaked = [rid for rid in world.other_ids(OUTSIDE) if rid in resp.get_data(as_text=True)]
            if leaked:
                broken.append(f"{url} as {role} shows {leaked}")

    for url, allowed in WEB_PAGES.items():
        expect(url, allowed)
    for template, allowed in WEB_RECORD_PAGES.items():
        for place in (INSIDE, OUTSIDE):
            expect(template.format(**world.records[place]), allowed, place)
    assert broken == []


# Rules the matrix does not reach, each with the reason and where its access is tested.
EXEMPT = {
    "/api/v1/auth/token": "open to all: logging in (tests/test_auth*.py)",
    "/api/v1/auth/refresh": "open to all: the refresh token is the credential (tests/test_auth*.py)",
    "/api/v1/openapi.json": "the public API document",
    "/static/<path:filename>": "static files",
    "/web/static/<path:filename>": "static files",
    "/": "a redirect to the pages",
    "/web/login": "open to all: the login form",
    "/web/logout": "CSRF-protected form post (tests/web)",
    "/web/registrations/<registration_id>/decision": "CSRF-protected form post (tests/web)",
    "/web/conflicts/<conflict_id>/resolve": "CSRF-protected form post (tests/web)",
    "/web/duplicates/<case_id>/settle": "CSRF-protected form post (tests/test_duplicates.py)",
    "/web/households/<household_id>/payouts": "CSRF-protected form post (tests/web)",
    "/web/households/<household_id>/support-items": "CSRF-protected form post (tests/web)",
    "/web/payouts/<payout_id>/<action>": "CSRF-protected form post (tests/web)",
    "/web/support-items/<item_id>/<action>": "CSRF-protected form post (tests/web)",
    "/web/registrations/<registration_id>/photo": "an attachment of a registration page (tests/web)",
    "/web/users/<username>/role": "CSRF-protected admin form post (tests/web/test_web_users.py)",
    "/web/users/<username>/active": "CSRF-protected admin form post (tests/web/test_web_users.py)",
    "/web/users/<username>/password": "CSRF-protected admin form post (tests/web/test_web_users.py)",
    "/v1/sessions": "open to all: ODK Central's login (tests/odk)",
    "/app": "a redirect to the offline app's shell",
    "/app/": "the offline app's shell page: no data, the same for everyone (tests/app)",
    "/app/sw.js": "the offline app's service worker: no data (tests/app)",
    "/app/manifest.webmanifest": "the offline app's manifest: no data (tests/app)",
    "/app/vocabulary.js": "the programme's words for the offline app: no data (tests/app)",
    "/app/static/<path:filename>": "static files",
}
EXEMPT_PREFIXES = {
    "/v1/key/": "device-key twins of the OpenRosa routes above (tests/odk)",
    "/v1/projects/<int:project_id>/forms/<form_id>/": "per-submission Central routes (tests/odk)",
    "/v1/projects/1/forms/<form_id>/": "form manifests and media (tests/odk)",
}


def test_every_route_is_in_the_matrix(app):
    """A route added to the app without a line here (or a reason in EXEMPT) fails this test."""
    covered = {r.rule for r in ROUTES} | set(WEB_RULES)
    missing = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule not in covered
        and rule.rule not in EXEMPT
        and not rule.rule.startswith(tuple(EXEMPT_PREFIXES))
    ]
    assert missing == [], "add these routes to the access matrix (ROUTES) or to EXEMPT with a reason"
