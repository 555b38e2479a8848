"""The OData subset: ``$filter`` on the ``__system`` values, and rows typed by the form."""

from __future__ import annotations

from datetime import UTC, datetime

import defusedxml.ElementTree as SafeET
import pytest

from server.odk.odata import ODataError, build_row, parse_filter

MAY = datetime(2020, 5, 2, 1, 15, tzinfo=UTC)
ROW = {
    "__system/submissionDate": MAY,
    "__system/updatedAt": None,
    "__system/submitterId": "7",
    "__system/reviewState": "hasIssues",
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("__system/submissionDate ge 2020-05-01", True),
        ("__system/submissionDate lt 2020-05-02T08:15:00+07:00", False),  # 01:15 UTC is that instant
        ("__system/submissionDate le 2020-05-02T01:15:00.000Z", True),
        ("__system/updatedAt eq null", True),
        ("__system/updatedAt gt 2020-01-01", False),  # an ordering comparison with null is false
        ("not (__system/updatedAt gt 2020-01-01)", True),
        ("__system/reviewState eq 'hasIssues' and __system/submitterId eq 7", True),
        ("__system/reviewState eq 'approved' or __system/submitterId eq '7'", True),
        (
            "__system/reviewState ne null"
            " and (__system/submissionDate gt 2021-01-01 or __system/submitterId eq 8)",
            False,
        ),
    ],
)
def test_filters_compare_the_system_values(expression, expected):
    assert parse_filter(expression)(ROW) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "head_name eq 'Hồ'",
        "__system/submissionDate eq 'yesterday'",
        "__system/submissionDate gt 2020-13-45",
        "__system/submissionDate like 2020-01-01",
        "(__system/updatedAt eq null",
        "__system/updatedAt eq null and",
        "__system/updatedAt eq null; drop table users",
    ],
)
def test_anything_outside_the_subset_is_refused_with_a_reason(expression):
    with pytest.raises(ODataError):
        parse_filter(expression)


def test_a_row_nests_groups_and_types_answers_by_the_form():
    root = SafeET.fromstring(
        "<data><household><members>5</members><location>15.5 108.2 30 4.5</location><phone/></household>"
        "<ratio>0.25</ratio><note>bad <b>x</b></note><meta><instanceID>uuid:1</instanceID></meta></data>"
    )
    types = {
        "members": "int",
        "location": "geopoint",
        "phone": "string",
        "ratio": "decimal",
        "instanceID": "string",
    }
    row = build_row(root, types)
    assert row["household"] == {
        "members": 5,
        "location": {"type": "Point", "coordinates": [108.2, 15.5, 30.0], "properties": {"accuracy": 4.5}},
        "phone": None,
    }
    assert row["ratio"] == 0.25 and row["meta"] == {"instanceID": "uuid:1"}
    assert build_row(root, types, wkt=True)["household"]["location"] == "POINT (108.2 15.5 30)"


def test_an_answer_its_type_does_not_fit_is_shown_as_sent():
    root = SafeET.fromstring("<data><members>năm</members></data>")
    assert build_row(root, {"members": "int"}) == {"members": "năm"}
