"""Sample data for the ODK tests: instances filled in from the compiled forms, small XLSForms."""

from __future__ import annotations

import copy
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import defusedxml.ElementTree as SafeET
from openpyxl import Workbook

from server.odk.forms import XFORMS_NS, XHTML_NS, FormDefinition, get_form

HOUSEHOLD_ID = "3b0c2f4e-5a61-4d2b-9c1e-7f8a9b0c1d2e"
INSTANCE_UUID = "e4b5a2c8-1f3d-4e6a-8b7c-9d0e1f2a3b4c"
SUPPORT_ITEM_ID = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"
PAYOUT_ID = "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f"

# What a collaborator in Xã Trà Sơn (Bắc Trà My) enters for a poor household.
# The records the follow-up visit and the payout receipt act on, as the district plans them.
SUPPORT_ITEM_DATA = {
    "household_id": HOUSEHOLD_ID,
    "registration_id": INSTANCE_UUID,
    "kind": "livestock",
    "description": "2 con bê giống",
    "amount_vnd": 16_000_000,
    "funding_source": "province",
    "due_date": "2020-09-30",
    "status": "planned",
    "delivered_on": None,
}
PAYOUT_DATA = {
    "household_id": HOUSEHOLD_ID,
    "registration_id": INSTANCE_UUID,
    "kind": "reward",
    "recognized_year": 2020,
    "amount_vnd": 5_000_000,
    "due_date": "2020-09-15",
    "status": "disbursed",
    "disbursed_on": "2020-09-28",
    "confirmed_on": None,
}

EXIT_REGISTRATION_ANSWERS = {
    "start": "2020-05-02T08:01:12.345+07:00",
    "end": "2020-05-02T08:15:00.000+07:00",
    "deviceid": "collect:Xb7Qz1",
    "new_household_id": HOUSEHOLD_ID,
    "household_id": HOUSEHOLD_ID,
    "household_code": "BTM-TS-0731",
    "commune_code": "20900",
    "village": "Thôn 2",
    "head_name": "Hồ Văn Đước",
    "members": "5",
    "category": "poor",
    "ethnic_minority": "yes",
    "year": "2020",
    "kind": "exit_poverty",
    "needs": "livestock preferential_loan",
    "commitment": "yes",
    "signed_on": "2020-05-02",
    "notes": "Hộ có 2 con bò giống, cần vay vốn mở rộng chuồng trại.",
    "signed_form_photo": "1588381500123.jpg",
    "instanceName": "Hồ Văn Đước - BTM-TS-0731",
}

FOLLOW_UP_ANSWERS = {
    "start": "2020-09-14T09:00:00.000+07:00",
    "end": "2020-09-14T09:20:41.120+07:00",
    "deviceid": "collect:Xb7Qz1",
    "household_id": HOUSEHOLD_ID,
    "support_item_id": SUPPORT_ITEM_ID,
    "delivered_on": "2020-09-12",
    "notes": "Đã nhận 2 con bê.",
}

PAYOUT_RECEIPT_ANSWERS = {
    "start": "2020-10-01T14:00:00.000+07:00",
    "end": "2020-10-01T14:05:10.000+07:00",
    "deviceid": "collect:Xb7Qz1",
    "household_id": HOUSEHOLD_ID,
    "payout_id": PAYOUT_ID,
    "confirmed_on": "2020-09-30",
    "notes": "",
}


def main_instance(form: FormDefinition) -> ET.Element:
    """The compiled XForm's main instance root (the blank record a phone fills in)."""
    html = SafeET.fromstring(form.xform)
    model = html.find(f"{{{XHTML_NS}}}head/{{{XFORMS_NS}}}model")
    main = next(i for i in model.findall(f"{{{XFORMS_NS}}}instance") if "id" not in i.attrib)
    return main[0]


def fill_instance(
    form_id: str,
    answers: dict[str, str],
    instance_uuid: str = INSTANCE_UUID,
    deprecated_uuid: str | None = None,
    namespaced: bool = False,
) -> bytes:
    """The instance XML a phone would submit for ``answers``, built from the compiled form.

    Like ODK Collect: no default namespace, ``id`` and ``version`` on the root, ``jr``/``orx``
    prefixes declared, ``meta/instanceID`` (and ``meta/deprecatedID`` for an edit). With
    ``namespaced`` every element is in the XForms namespace instead, as some clients send.
    """
    root = copy.deepcopy(main_instance(get_form(form_id)))
    leaves = {}
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
        if len(element) == 0:
            leaves[element.tag] = element
    unknown = set(answers) - set(leaves)
    assert not unknown, f"answers for elements the form does not have: {unknown}"
    for name, value in answers.items():
        leaves[name].text = value
    leaves["instanceID"].text = f"uuid:{instance_uuid}"
    if deprecated_uuid is not None:
        meta = root.find("meta")
        ET.SubElement(meta, "deprecatedID").text = f"uuid:{deprecated_uuid}"
    if namespaced:
        for element in root.iter():
            element.tag = f"{{{XFORMS_NS}}}{element.tag}"
    else:
        root.set("xmlns:jr", "http://openrosa.org/javarosa")
        root.set("xmlns:orx", "http://openrosa.org/xforms")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def with_entity(xml: bytes, **attributes: str) -> bytes:
    """The instance with its ``meta/entity`` attributes set, as Collect fills them."""
    root = SafeET.fromstring(xml)
    entity = root.find("meta/entity")
    for name, value in attributes.items():
        entity.set(name, value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_xlsform(path: Path, survey: list[list[str]], settings: dict[str, str], choices=()) -> Path:
    """Write a small XLSForm (first survey row is the header) for tests of the compiler."""
    wb = Workbook()
    sheet = wb.active
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    sheet = wb.create_sheet("choices")
    sheet.append(["list_name", "name", "label"])
    for row in choices:
        sheet.append(list(row))
    sheet = wb.create_sheet("settings")
    sheet.append(list(settings))
    sheet.append(list(settings.values()))
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path
