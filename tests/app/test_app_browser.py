"""The collaborator's offline app (/app/) in headless Chromium, as a collaborator uses it.

A real server on 127.0.0.1 on the test database (SQLite or PostgreSQL), the phone's screen
(360 x 640), the network cut with ``context.set_offline`` and answers dropped with route
interception. Needs Debian's ``chromium`` and ``playwright`` (skipped with the reason without
them, like the web pages' browser tests). Screenshots go to tests/screenshots/app-*.png.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import zlib
from pathlib import Path

import pytest
from sqlalchemy import select, update

from server.extensions import db
from server.models import AppliedChange, Upload, User
from server.odk.attachments import blob_path
from server.store import accounts as account_store
from tests.browsers import SCREENSHOTS, launch, serve
from tests.conftest import PASSWORD
from tests.factories import household, payout, put, registration, support_item
from tests.phones import Phone

PHONE = {"width": 360, "height": 640}


@pytest.fixture(scope="module")
def live_server(app):
    yield from serve(app)


@pytest.fixture(scope="module")
def chromium():
    yield from launch()


@pytest.fixture
def phone_context(chromium, live_server):
    contexts = []

    def open_one():
        context = chromium.new_context(
            viewport=PHONE, base_url=live_server, device_scale_factor=1, has_touch=True
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context

    yield open_one
    for context in contexts:
        context.close()


def noise_png(width: int = 1200, height: int = 900) -> bytes:
    """A photo-sized PNG the phone must shrink (random pixels compress badly, like a photo)."""
    raw = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"app-{name}.png"))


def open_app(context):
    page = context.new_page()
    # What the app said, shown with a failing test's output.
    page.on("console", lambda m: print("console:", m.type, m.text))
    page.on("pageerror", lambda e: print("page error:", e))
    page.goto("/app/")
    page.wait_for_selector("body[data-ready=true]")
    return page


def log_in(page, username: str) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-action=login]")
    page.wait_for_selector("[data-action=new-household]")
    wait_sync(page)


def wait_sync(page) -> None:
    page.wait_for_function(
        "() => window.fieldsync && !window.fieldsync.syncing && document.body.dataset.sync !== 'running'"
    )


def sync_now(page) -> None:
    page.click("[data-action=sync] >> nth=0")
    wait_sync(page)


def change_ids(batch: dict) -> list[str]:
    return [c["change_id"] for c in batch["changes"]]


def waiting(page) -> int:
    return page.evaluate("() => window.fieldsync.outbox.filter((c) => c.state !== 'done').length")


def tab(page, name: str) -> None:
    page.click(f"#tabs button[data-tab={name}]")


def seed_commune(app) -> dict:
    """What the district put on the server for Trà Đốc: an approved household with a paid payout."""
    with app.app_context():
        hh = put("households", household(head_name="Hồ Thị Lan", code="TD-0042", members=5))
        reg = put(
            "registrations", registration(hh, status="approved", decided_at="2020-06-01T09:00:00+07:00")
        )
        pay = put(
            "payouts", payout(hh, reg, amount_vnd=5_000_000, status="disbursed", disbursed_on="2020-09-20")
        )
    return {"household": hh, "registration": reg, "payout": pay}


def fill_new_household(page, code: str, head_name: str, photo: bytes | None = None) -> None:
    page.click("[data-action=new-household]")
    hh = page.locator("fieldset[data-entity=households]")
    hh.locator("[name=code]").fill(code)
    hh.locator("[name=head_name]").fill(head_name)
    hh.locator("[name=village]").fill("Thôn 3")
    hh.locator("[name=members]").fill("4")
    hh.locator("[name=category]").select_option("poor")
    hh.locator("[name=ethnic_minority]").check()
    reg = page.locator("fieldset[data-entity=registrations]")
    reg.locator("[name=members]").fill("4")
    reg.locator("[name=needs][value=livestock]").check()
    reg.locator("[name=needs][value=preferential_loan]").check()
    reg.locator("[name=commitment]").check()
    reg.locator("[name=signed_on]").fill("2020-03-15")
    if photo is not None:
        reg.locator("[name=signed_form_photo]").set_input_files(
            files=[{"name": "giay.png", "mimeType": "image/png", "buffer": photo}]
        )
        page.wait_for_selector("[data-photo-bytes]", timeout=60_000)


def photo_on_phone(page) -> bytes:
    """The shrunk photo as the phone keeps it in IndexedDB."""
    encoded = page.evaluate(
        """async () => {
            const db = await new Promise((ok) => {
                const r = indexedDB.open('fieldsync');
                r.onsuccess = () => ok(r.result);
            });
            const photos = await new Promise((ok) => {
                const r = db.transaction('photos').objectStore('photos').getAll();
                r.onsuccess = () => ok(r.result);
            });
            const bytes = new Uint8Array(await photos[0].blob.arrayBuffer());
            let s = ''; for (const b of bytes) s += String.fromCharCode(b);
            return btoa(s);
        }"""
    )
    return base64.b64decode(encoded)


def test_offline_for_a_day_then_everything_arrives_once_in_order(app, client, auth, phone_context):
    seeded = seed_commune(app)
    user = auth.user("collaborator")
    context = phone_context()
    page = open_app(context)
    screenshot(page, "login")
    log_in(page, user)
    assert page.locator(f'li[data-id="{seeded["household"]}"]').get_attribute("data-status") == "approved"

    context.set_offline(True)
    page.reload()  # the service worker serves the shell; IndexedDB still holds the commune
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#net").get_attribute("data-online") == "false"
    assert page.locator(f'li[data-id="{seeded["household"]}"]').count() == 1

    # A form the phone refuses before anything is saved: no commitment, members missing.
    page.click("[data-action=new-household]")
    page.click("[data-action=save]")
    page.wait_for_selector('[data-error="head_name"]')
    assert page.locator('[data-error="commitment"]').count() == 1
    page.click("[data-action=cancel]")

    fill_new_household(page, "TD-0100", "Hồ Văn Mới", photo=noise_png())
    screenshot(page, "form")
    page.click("[data-action=save]")
    new_id = page.wait_for_selector("li[data-sync=pending]").get_attribute("data-id")
    page.locator(f'li[data-id="{new_id}"] [data-action=edit]').click()
    page.locator("fieldset[data-entity=households] [name=head_name]").fill("Hồ Văn Mười")
    page.click("[data-action=save]")
    page.wait_for_selector(f'li[data-id="{new_id}"] >> text=Hồ Văn Mười')
    screenshot(page, "households")

    tab(page, "payouts")
    item = page.locator(f'li[data-id="{seeded["payout"]}"]')
    assert "5.000.000" in item.locator(".amount").inner_text()
    item.locator("[data-action=confirm-payout]").click()
    page.wait_for_selector(f'li[data-id="{seeded["payout"]}"][data-status=confirmed]')

    page.reload()  # a phone restart, still offline: the outbox is on the phone
    page.wait_for_selector("body[data-ready=true]")
    assert waiting(page) == 3
    tab(page, "sync")
    assert page.locator("#changes li[data-status=pending]").count() == 3

    pushes = []
    page.on(
        "request",
        lambda r: pushes.append(json.loads(r.post_data)) if r.url.endswith("/api/v1/sync/push") else None,
    )
    context.set_offline(False)  # signal: the app syncs by itself
    page.wait_for_selector("#net[data-online=true]")  # the online event came
    page.wait_for_function(
        "() => window.fieldsync.photos.length === 1 && window.fieldsync.photos[0].state === 'done'",
        timeout=60_000,
    )
    wait_sync(page)
    assert waiting(page) == 0
    tab(page, "sync")
    assert page.locator("#changes li[data-status=applied]").count() == 3
    screenshot(page, "sync")

    sent = [(c["entity"], c["id"]) for body in pushes for c in body["changes"]]
    assert sent == [("households", new_id), ("registrations", sent[1][1]), ("payouts", seeded["payout"])]
    reg_id = sent[1][1]
    phone = Phone(client, auth.headers("commune_official"))
    phone.pull()
    assert phone.get("households", new_id)["data"]["head_name"] == "Hồ Văn Mười"
    assert phone.get("households", new_id)["version"] == 1  # the edit went out with the first save
    paid = phone.get("payouts", seeded["payout"])
    assert (paid["data"]["status"], paid["version"]) == ("confirmed", 2)
    reg = phone.get("registrations", reg_id)
    assert reg["data"]["needs"] == ["livestock", "preferential_loan"] and reg["data"]["status"] == "submitted"
    shrunk = photo_on_phone(page)
    assert 20_000 < len(shrunk) <= 350 * 1024 and shrunk[:3] == b"\xff\xd8\xff"  # a JPEG, a few hundred KB
    digest = hashlib.sha256(shrunk).hexdigest()
    assert reg["data"]["signed_form_photo"] == digest
    assert blob_path(Path(app.config["ATTACHMENT_DIR"]), digest).read_bytes() == shrunk
    with app.app_context():
        applied = db.session.execute(select(AppliedChange.change_id)).scalars().all()
    assert len(applied) == len(set(applied)) == 4  # three saves and the photo's link, once each


def test_a_lost_answer_is_sent_again_as_the_same_batch_and_nothing_is_doubled(
    app, client, auth, phone_context
):
    user = auth.user("collaborator")
    context = phone_context()
    page = open_app(context)
    log_in(page, user)
    context.set_offline(True)
    fill_new_household(page, "TD-0200", "Hồ Văn Hai")
    page.click("[data-action=save]")
    # Saved only once the form closes: checked sooner, the outbox could still look empty, and
    # the edit below would then rightly fold into the household's unsent creation.
    page.wait_for_selector("fieldset[data-entity=households]", state="detached")
    context.set_offline(False)
    wait_sync(page)  # the online event may have started a sync: let it finish first
    while waiting(page):  # or not yet started one (a loaded machine): the household goes out first
        sync_now(page)

    seen, answers = [], []

    def drop_first_answer(route):
        seen.append(json.loads(route.request.post_data))
        response = route.fetch()  # the server commits the batch ...
        answers.append(response.json())
        if len(seen) == 1:
            route.abort("connectionreset")  # ... and its answer is lost on the way back
        else:
            route.fulfill(response=response)

    # Fresh outbox: the household above went out already; a new save, then a lost answer.
    page.route("**/api/v1/sync/push", drop_first_answer)
    page.locator("li[data-id] [data-action=edit]").first.click()
    page.locator("fieldset[data-entity=households] [name=members]").fill("6")
    page.click("[data-action=save]")
    # The form closes once every change of the save is in the outbox (the household's, then
    # the registration's): a sync started sooner would rightly send the second in a new batch.
    page.wait_for_selector("fieldset[data-entity=households]", state="detached")
    wait_sync(page)
    if not seen:
        sync_now(page)
    assert seen and answers  # the server committed the batch, the phone never heard back
    while waiting(page):  # the app sends it again by itself after a while, or at the button
        sync_now(page)
    first = seen[0]
    sends: dict[str, list] = {}
    for body, answer in zip(seen, answers, strict=True):
        sends.setdefault(body["batch_id"], []).append((body, answer))
    assert len(sends[first["batch_id"]]) >= 2  # the batch whose answer was lost went out again
    for copies in sends.values():  # every copy of a batch: the same changes, the stored answer
        (body, answer), *again = copies
        for other_body, other_answer in again:
            assert change_ids(other_body) == change_ids(body)
            assert other_answer == answer  # answered from the server's copy, not a second write
    assert waiting(page) == 0
    hid = first["changes"][0]["id"]
    phone = Phone(client, auth.headers("commune_official"))
    phone.pull()
    assert (
        phone.get("households", hid)["version"] == 2 and phone.get("households", hid)["data"]["members"] == 6
    )


def test_another_device_edits_the_same_field_first_and_the_app_shows_both_values(
    app, client, auth, phone_context
):
    seeded = seed_commune(app)
    user = auth.user("collaborator")
    context = phone_context()
    page = open_app(context)
    log_in(page, user)
    context.set_offline(True)
    page.locator(f'li[data-id="{seeded["household"]}"] [data-action=edit]').click()
    page.locator("fieldset[data-entity=households] [name=members]").fill("7")
    page.click("[data-action=save]")

    other = Phone(client, auth.headers("collaborator"), device_id="phone-of-a-colleague")
    other.pull()
    other.edit("households", seeded["household"], members=9)
    assert other.push()["results"][0]["status"] == "applied"

    context.set_offline(False)
    wait_sync(page)
    if waiting(page):
        sync_now(page)
    tab(page, "sync")
    item = page.locator("#changes li[data-status=conflict]")
    assert item.count() == 1
    members = item.locator('dl[data-field="members"]')
    assert "9" in members.locator('[data-value="server"]').inner_text()
    assert "7" in members.locator('[data-value="device"]').inner_text()
    assert "Số nhân khẩu" in members.inner_text()
    screenshot(page, "conflict")
    page.click("[data-action=lang]")
    assert "Conflict" in page.locator("#changes li[data-status=conflict]").inner_text()


def test_an_upload_cut_at_half_resumes_where_it_stopped(app, client, auth, phone_context):
    user = auth.user("collaborator")
    context = phone_context()
    page = open_app(context)
    log_in(page, user)
    pieces = []

    def cut_after_two(route):
        if route.request.method != "PATCH":
            return route.continue_()
        pieces.append(int(route.request.headers["upload-offset"]))
        if len(pieces) <= 2:
            return route.continue_()
        return route.abort("connectionreset")

    page.route("**/api/v1/uploads/*", cut_after_two)
    context.set_offline(True)
    fill_new_household(page, "TD-0300", "Hồ Thị Ba", photo=noise_png(1400, 1000))
    page.click("[data-action=save]")
    context.set_offline(False)
    wait_sync(page)
    if not pieces:
        sync_now(page)
    with app.app_context():
        upload = db.session.execute(select(Upload)).scalar_one()
        half_way, length = upload.received, upload.length
    assert half_way == 2 * 64 * 1024 < length and upload.completed_at is None
    page.unroute("**/api/v1/uploads/*")
    resumed = []
    page.on(
        "request",
        lambda r: (
            resumed.append((r.method, r.headers.get("upload-offset"))) if "/api/v1/uploads" in r.url else None
        ),
    )
    sync_now(page)
    assert resumed[0] == ("HEAD", None)  # where does it stand? then on from there, not from 0
    assert [m for m, _ in resumed].count("POST") == 0
    assert resumed[1] == ("PATCH", str(half_way))
    shrunk = photo_on_phone(page)
    digest = hashlib.sha256(shrunk).hexdigest()
    assert blob_path(Path(app.config["ATTACHMENT_DIR"]), digest).read_bytes() == shrunk
    with app.app_context():
        assert db.session.execute(select(Upload.sha256)).scalar_one() == digest


@pytest.mark.parametrize("how", ["deactivated", "revoked"])
def test_a_lost_phones_app_wipes_itself_and_says_why(app, client, auth, phone_context, how):
    seed_commune(app)
    user = auth.user("collaborator")
    context = phone_context()
    page = open_app(context)
    log_in(page, user)
    context.set_offline(True)
    fill_new_household(page, "TD-0400", "Hồ Văn Bốn")
    page.click("[data-action=save]")
    with app.app_context():
        if how == "deactivated":
            db.session.execute(update(User).where(User.username == user).values(active=False))
        else:
            from server.models import RefreshToken

            row = db.session.execute(select(User).where(User.username == user)).scalar_one()
            for family in set(
                db.session.execute(
                    select(RefreshToken.family_id).where(RefreshToken.user_id == row.id)
                ).scalars()
            ):
                account_store.revoke_family(family, row.created_at)
        db.session.commit()
    context.set_offline(False)
    page.wait_for_selector("#wiped")
    text = page.inner_text("#wiped")
    assert ("bị khóa" if how == "deactivated" else "thu hồi") in text
    assert "2" in text  # the household and its form, which the server no longer took, are counted
    counts = page.evaluate(
        """async () => {
            const db = await new Promise((ok) => {
                const r = indexedDB.open('fieldsync');
                r.onsuccess = () => ok(r.result);
            });
            const out = {};
            for (const n of ['records', 'outbox', 'batches', 'photos', 'meta']) {
                out[n] = await new Promise((ok) => {
                    const r = db.transaction(n).objectStore(n).count();
                    r.onsuccess = () => ok(r.result);
                });
            }
            return out;
        }"""
    )
    assert counts == {"records": 0, "outbox": 0, "batches": 0, "photos": 0, "meta": 0}
    page.reload()
    page.wait_for_selector("#wiped")
    assert page.locator("[data-action=new-household]").count() == 0
    if how == "revoked":
        screenshot(page, "wiped")


def test_a_returned_form_is_corrected_and_support_is_recorded_delivered(app, client, auth, phone_context):
    with app.app_context():
        hh = put("households", household(head_name="Alăng Thị Hoa", members=5))
        returned = put(
            "registrations",
            registration(hh, members=6, status="returned", decision_note="Bổ sung số khẩu và chữ ký"),
        )
        approved_hh = put("households", household(head_name="Bhriu Văn Tài"))
        approved = put("registrations", registration(approved_hh, status="approved"))
        item = put("support_items", support_item(approved_hh, approved, description="Bò giống sinh sản"))
    user = auth.user("collaborator")
    context = phone_context()
    page = open_app(context)
    log_in(page, user)
    assert page.locator("#tabs button[data-tab=returned] .count").inner_text() == "1"
    context.set_offline(True)
    tab(page, "returned")
    row = page.locator(f'li[data-id="{returned}"][data-status=returned]')
    assert "Bổ sung số khẩu và chữ ký" in row.inner_text()
    row.locator("[data-action=fix]").click()
    assert "Bổ sung số khẩu và chữ ký" in page.inner_text("#decision-note")
    regs = page.locator("fieldset[data-entity=registrations]")
    regs.locator("[name=members]").fill("6")
    page.click("[data-action=save]")  # 6 people on a form of a household of 5: the phone says no
    page.wait_for_selector('[data-error="members"]')
    page.locator("fieldset[data-entity=registrations] [name=members]").fill("5")
    page.click("[data-action=save]")
    page.wait_for_selector("[data-action=new-household]")

    tab(page, "support")
    page.locator(f'li[data-id="{item}"] [data-action=deliver]').click()
    page.wait_for_selector(f'li[data-id="{item}"][data-status=delivered]')
    context.set_offline(False)
    page.wait_for_selector("#net[data-online=true]")
    wait_sync(page)
    if waiting(page):
        sync_now(page)
    assert waiting(page) == 0
    phone = Phone(client, auth.headers("commune_official"))
    phone.pull()
    corrected = phone.get("registrations", returned)["data"]
    assert (corrected["status"], corrected["members"], corrected["decision_note"]) == ("submitted", 5, None)
    delivered = phone.get("support_items", item)["data"]
    assert delivered["status"] == "delivered" and delivered["delivered_on"]


def test_the_app_refreshes_its_own_tokens(app, auth, phone_context):
    user = auth.user("collaborator")
    context = phone_context()
    page = open_app(context)
    log_in(page, user)
    # The access token has run out (15 minutes offline is nothing): the next sync refreshes it.
    page.evaluate(
        """async () => {
            const db = await new Promise((ok) => {
                const r = indexedDB.open('fieldsync');
                r.onsuccess = () => ok(r.result);
            });
            const tx = db.transaction('meta', 'readwrite');
            const store = tx.objectStore('meta');
            const row = await new Promise((ok) => {
                const r = store.get('tokens');
                r.onsuccess = () => ok(r.result);
            });
            row.value.expires = 0;
            row.value.access = 'expired-token';
            store.put(row);
            await new Promise((ok) => { tx.oncomplete = ok; });
        }"""
    )
    refreshed = []
    page.on("request", lambda r: refreshed.append(r.url) if r.url.endswith("/api/v1/auth/refresh") else None)
    sync_now(page)
    assert len(refreshed) == 1
    assert page.locator("body[data-sync=done]").count() == 1 and page.locator("#login").count() == 0
