"""End to end in headless Chromium: the pages served by a real server on 127.0.0.1, on the test
database, driven the way an official and a supervisor use them.

Needs Debian's ``chromium`` (/usr/bin/chromium) and the ``playwright`` package; without them
these tests are skipped with the reason (CI installs both). Screenshots of the main pages go to
tests/screenshots/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.cli import DATA, load_quotas_file
from tests.browsers import SCREENSHOTS, launch, serve
from tests.conftest import PASSWORD
from tests.factories import household, payout, registration
from tests.phones import Phone
from tests.web.pages import capture_forms, seed


@pytest.fixture(scope="module")
def live_server(app):
    yield from serve(app)


@pytest.fixture(scope="module")
def chromium():
    yield from launch()


@pytest.fixture
def open_page(chromium, live_server):
    """A fresh browser context (its own cookies) per person; ``open_page(width)``."""
    contexts = []

    def open_one(width: int = 1280):
        context = chromium.new_context(viewport={"width": width, "height": 900}, base_url=live_server)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_one
    for context in contexts:
        context.close()


def log_in(page, username: str) -> None:
    page.goto("/web/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    submit(page, "button[type=submit]")


def submit(page, target) -> None:
    """Click a submit button or link (a selector or a locator) and wait for the next page."""
    with page.expect_navigation():
        if isinstance(target, str):
            page.click(target)
        else:
            target.click()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_an_official_approves_one_form_and_returns_another_and_the_phone_sees_both(
    app, client, auth, open_page
):
    phone = Phone(client, auth.headers("collaborator"))
    (_, first), (_, second) = capture_forms(phone, 2)
    official = auth.user("commune_official")
    page = open_page()
    log_in(page, official)
    assert page.url.endswith("/web/approvals")
    rows = page.locator("tr[data-registration]")
    assert rows.count() == 2
    screenshot(page, "approval_queue")

    submit(page, f'tr[data-registration="{first}"] a')
    assert "Hồ Văn Số 0" in page.inner_text("h1")
    screenshot(page, "registration")
    submit(page, 'button[value="approve"]')
    assert "Đã thống nhất hồ sơ" in page.inner_text(".flash")

    submit(page, f'tr[data-registration="{second}"] a')
    page.fill("textarea[name=note]", "Thiếu chữ ký của chủ hộ")
    submit(page, 'button[value="return"]')
    assert "Đã trả lại hồ sơ" in page.inner_text(".flash")
    assert page.locator("tr[data-registration]").count() == 0

    phone.pull()
    assert phone.get("registrations", first)["data"]["status"] == "approved"
    returned = phone.get("registrations", second)["data"]
    assert (returned["status"], returned["decision_note"]) == ("returned", "Thiếu chữ ký của chủ hộ")

    on_phone = open_page(390)
    log_in(on_phone, official)
    on_phone.goto(f"/web/registrations/{second}")
    screenshot(on_phone, "registration_phone")


def test_a_supervisor_sees_the_overdue_payout_at_the_top_of_the_delay_list(app, client, auth, open_page):
    with app.app_context():
        load_quotas_file(str(DATA / "quotas_2020.csv"))
    phone = Phone(client, auth.headers("collaborator"))
    capture_forms(phone, 3)  # a collaborator at work, and three forms waiting
    today = datetime.now(UTC).date()
    hh = seed(app, "households", household(head_name="Hồ Thị Chậm Chi"))
    approved = {"status": "approved", "decided_at": "2020-06-01T09:00:00+07:00"}
    seed(app, "registrations", registration(hh, **approved))
    for commune in ("20335", "20923", "20923"):  # Tam Kỳ, and Trà Tân of Bắc Trà My
        other = seed(app, "households", household(commune))
        seed(app, "registrations", registration(other, members=5, **approved), commune_code=commune)
    late = seed(app, "payouts", payout(hh, due_date=(today - timedelta(days=400)).isoformat()))
    seed(app, "payouts", payout(hh, amount_vnd=700_000, due_date=(today - timedelta(days=10)).isoformat()))
    waiting = seed(app, "households", household())
    seed(
        app,
        "registrations",
        registration(waiting, submitted_at=(datetime.now(UTC) - timedelta(days=40)).isoformat()),
    )
    page = open_page()
    log_in(page, auth.user("supervisor"))
    assert page.url.endswith("/web/dashboard")
    first = page.locator("tr[data-delay]").first
    assert first.get_attribute("data-delay") == late
    assert "Hồ Thị Chậm Chi" in first.inner_text() and "Chi trả chậm" in first.inner_text()
    assert "5.700.000" in page.inner_text(".outstanding")
    screenshot(page, "dashboard")
    page.select_option("select[name=kind]", "approval_overdue")
    submit(page, "form.filters button")
    assert page.locator("tr[data-delay]").count() == 1  # only the form waiting 40 days is late
    assert page.locator('tr[data-district="515"] td').first.inner_text() == "3"


def test_a_district_officer_schedules_and_approves_a_payout_that_the_phone_pulls(client, auth, open_page):
    phone = Phone(client, auth.headers("collaborator"))
    [(hh, _)] = capture_forms(phone, 1)
    page = open_page()
    log_in(page, auth.user("district_officer"))
    assert page.url.endswith("/web/households")
    submit(page, f'a[href="/web/households/{hh}"]')
    form = page.locator('form[action$="/payouts"]')
    form.locator("select[name=kind]").select_option("reward")
    form.locator("input[name=amount_vnd]").fill("5.000.000")
    form.locator("input[name=due_date]").fill("2020-09-30")
    submit(page, form.locator("button[type=submit]"))
    assert "Đã lên lịch chi trả" in page.inner_text(".flash")
    row = page.locator("tr[data-payout]")
    payout_id = row.get_attribute("data-payout")
    submit(page, row.locator('button:has-text("Duyệt chi")'))
    assert "Đã duyệt khoản chi" in page.inner_text(".flash")
    screenshot(page, "household")
    phone.pull()
    pulled = phone.get("payouts", payout_id)["data"]
    assert (pulled["status"], pulled["amount_vnd"]) == ("approved", 5_000_000)


def test_a_collaborators_session_cannot_open_the_supervisors_page(auth, open_page):
    page = open_page()
    log_in(page, auth.user("collaborator"))
    response = page.goto("/web/dashboard")
    assert response.status == 403
    assert "Bạn không có quyền xem trang này" in page.inner_text("main")
    assert page.locator("#quota").count() == 0


def test_an_official_settles_a_possible_duplicate_on_its_page(client, auth, open_page):
    """Two collaborators registered one family (one without diacritics): the official sees both
    side by side and settles them as one household."""
    first = Phone(client, auth.headers("collaborator"))
    second = Phone(client, auth.headers("collaborator"))
    kept = first.create("households", household(head_name="Hồ Thị Xuân Lan", members=5, phone="0905 123 456"))
    dropped = second.create("households", household(head_name="Ho Thi Xuan Lan", members=4))
    first.sync(), second.sync()
    page = open_page()
    log_in(page, auth.user("commune_official"))
    page.goto("/web/duplicates")
    assert page.locator("section[data-duplicate]").count() == 1
    assert "Hồ Thị Xuân Lan" in page.inner_text("section[data-duplicate]")
    screenshot(page, "duplicates")
    page.check(f'input[name=keep][value="{kept}"]')
    submit(page, 'button[value="same"]')
    assert "Đã gộp hai hộ" in page.inner_text(".flash")
    assert page.locator("section[data-duplicate]").count() == 0
    second.pull()
    assert second.get("households", dropped)["data"]["merged_into"] == kept
