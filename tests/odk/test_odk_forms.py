"""The shipped XLSForms compile cleanly and carry what the server reads from them."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest
from openpyxl import load_workbook
from pyxform.xls2xform import convert

from server.odk import forms as forms_module
from server.odk.changes import FIELDS_READ
from server.odk.forms import (
    FORMS_DIRECTORY,
    XFORMS_NS,
    XHTML_NS,
    FormCompileError,
    UnknownFormError,
    get_form,
    list_forms,
    read_releases,
)
from tests.odk.samples import main_instance, write_xlsform

SHIPPED = ["exit_registration", "follow_up_visit", "payout_receipt"]

# The content digest of each released edition of each form (see ``content_digest``), kept in
# ``server/odk/forms/releases.json``. A form edited without a new ``version`` fails below: bump
# the version in its settings sheet, then add the new (version, digest) pair there. Old pairs
# stay: they are the editions phones may still submit.
RELEASED = read_releases()

PROTOCOL_EXIT_REGISTRATION_FIELDS = [
    "household_id", "household_code", "commune_code", "village", "head_name", "members",
    "category", "ethnic_minority", "year", "kind", "needs", "commitment", "signed_on", "notes",
    "signed_form_photo", "instanceID",
]  # fmt: skip

PROTOCOL_CHOICES = {
    "category": ["poor", "near_poor"],
    "ethnic_minority": ["yes", "no"],
    "kind": ["exit_poverty", "exit_near_poverty"],
    "needs": [
        "livestock", "seedlings", "vocational_training", "preferential_loan", "job_placement",
        "housing", "other",
    ],
    "commitment": ["yes", "no"],
}  # fmt: skip

VI = "Tiếng Việt (vi)"
EN = "English (en)"


def content_digest(path: Path) -> str:
    """A digest of every cell of every sheet: what the form says, not how the file is zipped."""
    workbook = load_workbook(path, read_only=True)
    content = {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook}
    workbook.close()
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, default=str).encode()).hexdigest()


def xform_binds(form) -> dict[str, dict[str, str]]:
    html = SafeET.fromstring(form.xform)
    model = html.find(f"{{{XHTML_NS}}}head/{{{XFORMS_NS}}}model")
    return {b.get("nodeset").rsplit("/", 1)[-1]: b.attrib for b in model.findall(f"{{{XFORMS_NS}}}bind")}


def choice_values(form, field: str) -> list[str]:
    """The values offered for a select question, read from the XForm body and its itemset."""
    html = SafeET.fromstring(form.xform)
    body = html.find(f"{{{XHTML_NS}}}body")
    selects = (f"{{{XFORMS_NS}}}select1", f"{{{XFORMS_NS}}}select")
    control = next(e for e in body.iter() if e.tag in selects and (e.get("ref") or "").endswith(f"/{field}"))
    nodeset = control.find(f"{{{XFORMS_NS}}}itemset").get("nodeset")
    list_name = nodeset.split("'")[1]
    model = html.find(f"{{{XHTML_NS}}}head/{{{XFORMS_NS}}}model")
    instance = next(i for i in model.findall(f"{{{XFORMS_NS}}}instance") if i.get("id") == list_name)
    return [item.findtext(f"{{{XFORMS_NS}}}name") for item in instance.iter(f"{{{XFORMS_NS}}}item")]


def test_the_three_forms_are_shipped_and_compile_without_pyxform_warnings():
    assert [form.form_id for form in list_forms()] == SHIPPED
    for form_id in SHIPPED:
        warnings: list[str] = []
        convert(xlsform=FORMS_DIRECTORY / f"{form_id}.xlsx", warnings=warnings)
        assert warnings == [], form_id


@pytest.mark.parametrize("form_id", SHIPPED)
def test_each_form_has_a_title_a_version_and_the_md5_of_the_served_xform(form_id):
    form = get_form(form_id)
    assert form.title and form.title != form_id
    assert re.fullmatch(r"20[0-9]{8}", form.version)  # yyyymmddnn
    assert form.hash == "md5:" + hashlib.md5(form.xform, usedforsecurity=False).hexdigest()
    root = main_instance(form)
    assert root.get("id") == form_id
    assert root.get("version") == form.version


def test_exit_registration_has_every_element_the_protocol_names():
    fields = get_form("exit_registration").fields
    missing = [name for name in PROTOCOL_EXIT_REGISTRATION_FIELDS if name not in fields]
    assert missing == []
    assert fields["signed_form_photo"] == "binary"
    assert get_form("exit_registration").binary_fields == {"signed_form_photo"}


@pytest.mark.parametrize("form_id", SHIPPED)
def test_every_field_the_mapping_reads_exists_with_the_expected_type(form_id):
    fields = get_form(form_id).fields
    expected = FIELDS_READ[form_id]
    assert {name: fields.get(name) for name in expected} == expected


@pytest.mark.parametrize("field", sorted(PROTOCOL_CHOICES))
def test_choice_lists_offer_exactly_the_protocol_values(field):
    assert choice_values(get_form("exit_registration"), field) == PROTOCOL_CHOICES[field]


@pytest.mark.parametrize("form_id", SHIPPED)
def test_forms_speak_vietnamese_first_and_english_second(form_id):
    html = SafeET.fromstring(get_form(form_id).xform)
    translations = html.findall(f".//{{{XFORMS_NS}}}itext/{{{XFORMS_NS}}}translation")
    assert [(t.get("lang"), t.get("default")) for t in translations] == [(VI, "true()"), (EN, None)]
    # Every text has both languages: no question shows up untranslated on a phone.
    ids = [{text.get("id") for text in t} for t in translations]
    assert ids[0] == ids[1]


def test_exit_registration_constraints_mirror_the_server_rules():
    binds = xform_binds(get_form("exit_registration"))
    required = {name for name, bind in binds.items() if bind.get("required") == "true()"}
    assert required >= {
        "household_code", "commune_choice", "household_mode", "household_pick", "village", "head_name",
        "members", "category", "ethnic_minority", "year", "kind", "commitment", "signed_on",
    }  # fmt: skip
    assert {"notes", "signed_form_photo", "phone", "location", "needs"}.isdisjoint(required)
    # The engine's record schema: members 1..100, code up to 50, names up to 200, notes up to 2000.
    assert binds["members"]["constraint"] == ". >= 1 and . <= 100"
    assert binds["household_code"]["constraint"] == "string-length(.) <= 50"
    assert binds["head_name"]["constraint"] == "string-length(.) <= 200"
    # The commune is the collaborator's own, from their communes.csv: a choice only with several.
    assert binds["commune_choice"]["relevant"] == " /data/commune_count  > 1"
    assert binds["commune_code"]["calculate"].startswith("if( /data/commune_count  = 1,")
    assert binds["notes"]["constraint"] == "string-length(.) <= 2000"
    assert binds["year"]["constraint"].startswith(". >= 2017 and")
    # The household id is made on the phone once, and kept through edits of the submission.
    assert binds["new_household_id"]["calculate"] == "once(uuid())"


@pytest.mark.parametrize("form_id", SHIPPED)
def test_a_form_changed_without_a_new_version_is_caught(form_id):
    digest = content_digest(FORMS_DIRECTORY / f"{form_id}.xlsx")
    version = get_form(form_id).version
    released = RELEASED[form_id]
    assert version in released, f"{form_id}: add version {version} with digest {digest} to releases.json"
    assert released[version] == digest, (
        f"{form_id}.xlsx changed but its version is still {version}: bump the version in its "
        f"settings sheet and record the new digest {digest} in releases.json"
    )


def test_editing_a_form_changes_its_hash_and_bumping_the_version_shows(tmp_path):
    shutil.copy(FORMS_DIRECTORY / "payout_receipt.xlsx", tmp_path / "payout_receipt.xlsx")
    before = get_form("payout_receipt", tmp_path)

    workbook = load_workbook(tmp_path / "payout_receipt.xlsx")
    survey = workbook["survey"]
    header = [cell.value for cell in survey[1]]
    name_col, label_col = header.index("name"), header.index(f"label::{VI}")
    row = next(r for r in survey.iter_rows(min_row=2) if r[name_col].value == "confirmed_on")
    row[label_col].value = "Ngày hộ ký nhận tiền"
    workbook.save(tmp_path / "payout_receipt.xlsx")
    edited = get_form("payout_receipt", tmp_path)
    assert edited.hash != before.hash
    assert "Ngày hộ ký nhận tiền" in edited.xform.decode()
    assert edited.version == before.version  # the editor's job, which the digest test checks

    settings = workbook["settings"]
    header = [cell.value for cell in settings[1]]
    settings.cell(row=2, column=header.index("version") + 1, value="2026113001")
    workbook.save(tmp_path / "payout_receipt.xlsx")
    bumped = get_form("payout_receipt", tmp_path)
    assert bumped.version == "2026113001"
    assert main_instance(bumped).get("version") == "2026113001"
    assert bumped.hash not in (before.hash, edited.hash)


def test_compiling_is_deterministic_so_every_worker_serves_the_same_hash():
    first = get_form("exit_registration")
    forms_module._compile_xlsform.cache_clear()
    again = get_form("exit_registration")
    assert again.xform == first.xform and again.hash == first.hash


def test_a_form_with_pyxform_warnings_is_refused(tmp_path):
    write_xlsform(
        tmp_path / "warned.xlsx",
        [["type", "name", "label"], ["select_one yn", "q", "Q?"]],
        {"form_id": "warned", "version": "1"},
        choices=[("yn", "yes", ""), ("yn", "no", "No")],
    )
    with pytest.raises(FormCompileError, match="warned.xlsx: pyxform warnings"):
        list_forms(tmp_path)


def test_a_form_must_be_named_after_its_form_id_and_have_a_version(tmp_path):
    survey = [["type", "name", "label"], ["text", "q", "Q?"]]
    write_xlsform(tmp_path / "other_name.xlsx", survey, {"form_id": "real_id", "version": "1"})
    with pytest.raises(FormCompileError, match="must be named real_id.xlsx"):
        list_forms(tmp_path)
    (tmp_path / "other_name.xlsx").unlink()
    write_xlsform(tmp_path / "no_version.xlsx", survey, {"form_id": "no_version"})
    with pytest.raises(FormCompileError, match="needs a version"):
        list_forms(tmp_path)


def test_element_names_must_be_unique_at_any_depth(tmp_path):
    survey = [
        ["type", "name", "label"],
        ["text", "notes", "Notes"],
        ["begin_group", "visit", "Visit"],
        ["text", "notes", "Visit notes"],
        ["end_group", "visit", ""],
    ]
    write_xlsform(tmp_path / "twice.xlsx", survey, {"form_id": "twice", "version": "1"})
    with pytest.raises(FormCompileError, match="'notes' is used twice"):
        list_forms(tmp_path)


def test_unknown_form_ids_are_not_found_and_never_read_as_paths():
    for form_id in ["nope", "../forms/exit_registration", "exit_registration.xlsx", ""]:
        with pytest.raises(UnknownFormError):
            get_form(form_id)


def test_spreadsheet_lock_files_are_ignored(tmp_path):
    shutil.copy(FORMS_DIRECTORY / "payout_receipt.xlsx", tmp_path / "payout_receipt.xlsx")
    (tmp_path / "~$payout_receipt.xlsx").write_bytes(b"lock")
    assert [f.form_id for f in list_forms(tmp_path)] == ["payout_receipt"]


def test_files_in_the_media_folder_are_the_forms_media(tmp_path):
    shutil.copy(FORMS_DIRECTORY / "follow_up_visit.xlsx", tmp_path / "follow_up_visit.xlsx")
    assert get_form("follow_up_visit", tmp_path).media == ()
    media = tmp_path / "follow_up_visit-media"
    media.mkdir()
    (media / "communes.csv").write_text("name,label\n20900,Xã Trà Sơn\n", encoding="utf-8")
    (media / ".DS_Store").write_bytes(b"junk")
    form = get_form("follow_up_visit", tmp_path)
    assert form.has_media
    assert [m.name for m in form.media] == ["communes.csv"]
    content = (media / "communes.csv").read_bytes()
    assert (
        form.find_media("communes.csv").hash
        == "md5:" + hashlib.md5(content, usedforsecurity=False).hexdigest()
    )
    assert form.find_media("missing.csv") is None


@pytest.mark.skipif(shutil.which("java") is None, reason="ODK Validate (the jar pyxform ships) needs Java")
@pytest.mark.parametrize("form_id", SHIPPED)
def test_odk_validate_accepts_each_shipped_form(form_id, tmp_path):
    """JavaRosa, as ODK Validate runs it, parses the served XForm and evaluates its expressions."""
    from pyxform.validators import odk_validate

    path = tmp_path / f"{form_id}.xml"
    path.write_bytes(get_form(form_id).xform)
    assert odk_validate.check_xform(str(path)) == []  # raises ODKValidateError on an error
