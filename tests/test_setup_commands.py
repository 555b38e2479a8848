"""The setup commands, as an operator runs them: good files load, bad files load nothing."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

from sqlalchemy import func, select

from server.extensions import db
from server.models import Household, Payout, Quota, Registration, Unit, User
from tests.servers import ROOT, free_port


def count(app, model):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_init_db_is_idempotent(runner):
    first = runner.invoke(args=["init-db"])
    second = runner.invoke(args=["init-db"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "database ready" in second.output


def test_load_units_loads_the_province_and_is_idempotent(app, runner, data_dir):
    result = runner.invoke(args=["load-units", str(data_dir / "quang_nam_units_2020.csv")])
    assert result.exit_code == 0, result.output
    assert "loaded 260 units" in result.output
    with app.app_context():
        levels = dict(db.session.execute(select(Unit.level, func.count()).group_by(Unit.level)).all())
        assert levels == {"province": 1, "district": 18, "commune": 241}
        assert db.session.get(Unit, "20920").name == "Xã Trà Đốc"
        assert db.session.get(Unit, "515").mountain is True


def test_load_units_refuses_a_bad_file_whole_and_names_the_line(app, runner, tmp_path):
    bad = tmp_path / "units.csv"
    bad.write_text(
        "code,name,level,parent_code\n99901,Xã Mới,commune,515\n99902,Xã Lạ,hamlet,515\n", encoding="utf-8"
    )
    result = runner.invoke(args=["load-units", str(bad)])
    assert result.exit_code != 0
    assert "line 3" in result.output and "level" in result.output
    with app.app_context():
        assert db.session.get(Unit, "99901") is None  # the good first row was not loaded either


def test_load_units_refuses_an_unknown_parent(runner, tmp_path):
    bad = tmp_path / "units.csv"
    bad.write_text("code,name,level,parent_code\n99901,Xã Mới,commune,999\n", encoding="utf-8")
    result = runner.invoke(args=["load-units", str(bad)])
    assert result.exit_code != 0 and "line 2" in result.output and "parent_code" in result.output


def test_load_units_refuses_a_wrong_header(runner, tmp_path):
    bad = tmp_path / "units.csv"
    bad.write_text("ma,ten,cap\n1,a,province\n", encoding="utf-8")
    result = runner.invoke(args=["load-units", str(bad)])
    assert result.exit_code != 0 and "line 1" in result.output


def test_load_quotas_and_reload_updates(app, runner, data_dir, tmp_path):
    result = runner.invoke(args=["load-quotas", str(data_dir / "quotas_2020.csv")])
    assert result.exit_code == 0, result.output
    assert count(app, Quota) == 20
    changed = tmp_path / "q.csv"
    changed.write_text("year,unit_code,category,households\n2020,515,poor,401\n")
    assert runner.invoke(args=["load-quotas", str(changed)]).exit_code == 0
    assert count(app, Quota) == 20
    with app.app_context():
        quota = db.session.execute(select(Quota).where(Quota.unit_code == "515")).scalar_one()
        assert quota.households == 401


def test_load_quotas_refuses_bad_rows(app, runner, tmp_path):
    cases = {
        "2020,515,poor,abc\n": "households",
        "2020,20920,poor,5\n": "unit_code",
        "2020,515,rich,5\n": "category",
        "2020,515,poor,-1\n": "negative",
        "20x0,515,poor,1\n": "year",
    }
    for row, word in cases.items():
        path = tmp_path / "q.csv"
        path.write_text("year,unit_code,category,households\n2020,49,poor,3600\n" + row)
        result = runner.invoke(args=["load-quotas", str(path)])
        assert result.exit_code != 0, row
        assert "line 3" in result.output and word in result.output, result.output
    assert count(app, Quota) == 0


def test_create_user_reads_the_password_from_stdin(app, runner, client):
    result = runner.invoke(
        args=["create-user", "ctv01", "--role", "collaborator", "--unit", "20920"], input="mật-khẩu-dài-1\n"
    )
    assert result.exit_code == 0, result.output
    assert "mật-khẩu" not in result.output
    resp = client.post("/api/v1/auth/token", json={"username": "ctv01", "password": "mật-khẩu-dài-1"})
    assert resp.status_code == 200


def test_create_user_refuses_a_role_in_the_wrong_kind_of_unit(app, runner):
    result = runner.invoke(
        args=["create-user", "x", "--role", "district_officer", "--unit", "20920"],
        input="long-enough-password\n",
    )
    assert result.exit_code != 0 and "district" in result.output
    result = runner.invoke(
        args=["create-user", "y", "--role", "collaborator", "--unit", "00000"], input="long-enough-password\n"
    )
    assert result.exit_code != 0 and "does not exist" in result.output
    result = runner.invoke(
        args=["create-user", "z", "--role", "collaborator", "--unit", "20920"], input="short\n"
    )
    assert result.exit_code != 0 and "8 characters" in result.output
    assert count(app, User) == 0


def test_demo_builds_a_province_with_every_role_and_a_year_of_activity(app, runner):
    result = runner.invoke(args=["demo", "--districts", "2"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        roles = set(db.session.execute(select(User.role)).scalars())
        statuses = set(db.session.execute(select(Registration.status)).scalars())
        payouts = set(db.session.execute(select(Payout.status)).scalars())
        districts = set(db.session.execute(select(Household.district_code)).scalars())
    assert statuses == {"submitted", "approved", "rejected", "returned"}
    assert {"pending", "approved", "disbursed", "confirmed"} <= payouts
    assert districts == {"502", "515"}
    again = runner.invoke(args=["demo", "--districts", "2"])
    assert again.exit_code == 0 and "already present" in again.output
    assert roles == {"collaborator", "commune_official", "district_officer", "supervisor", "admin"}
    assert "ctv_trado" in result.output and "http://127.0.0.1:" in result.output
    # The demo collaborator's phone (a device key and its QR payload) gets Trà Đốc's households.
    lists = re.search(r"its entity lists: (\d+) households, (\d+) registrations", result.output)
    assert lists is not None and int(lists.group(1)) > 0, result.output
    assert re.search(r"/v1/key/[A-Za-z0-9_-]{64}/projects/1", result.output)


def test_demo_serve_answers_on_its_port(tmp_path):
    """The Quickstart's own command: `flask demo --serve` must end with a server answering
    (Flask's app.run() silently declines inside a flask command, which once left it mute)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}",
        SECRET_KEY="demo-serve-test-key-long-enough-for-hs256-signing",
        PYTHONPATH=str(ROOT),
    )
    argv = [sys.executable, "-m", "flask", "--app", "wsgi", "demo", "--serve", "--districts", "1"]
    proc = subprocess.Popen(
        [*argv, "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=5
                ) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the demo server never answered"
                time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
