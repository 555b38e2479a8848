"""The OData subset ODK Central serves a form's submissions with (``…/<formID>.svc/Submissions``).

pyodk's ``client.submissions.get_table`` and tools like Power BI read a form's submissions
as rows: each row is the instance's answers, nested by group as in the XML, typed by the
form's binds, with ``__id`` (the submission's instanceId) and ``__system`` (submission date,
review state, submitter …). ``$filter`` takes comparisons of ``__system/submissionDate``,
``__system/updatedAt``, ``__system/submitterId`` and ``__system/reviewState`` with
``eq ne lt le gt ge``, joined by ``and``/``or``, negated by ``not``, grouped by parentheses.

Pure Python: the route hands rows and parameters in and renders what comes out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - type only; parsing uses defusedxml
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any

FILTER_FIELDS = (
    "__system/submissionDate",
    "__system/updatedAt",
    "__system/submitterId",
    "__system/reviewState",
)
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge")
Predicate = Callable[[Mapping[str, Any]], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<string>'(?:[^']|'')*')"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_/]*)"
    r"|(?P<literal>[0-9][0-9:.TZ+\-]*))"
)


# How deeply a $filter may nest parentheses and ``not``s: far beyond what a person or pyodk
# writes, and well within Python's recursion limit for the descent below.
MAX_FILTER_DEPTH = 50
# How deeply a row nests groups: intake's bound (``server.odk.instances``), so a response
# stays within what the server's own strict JSON reader takes (``server.inputs``); an
# instance stored before that bound is rendered down to this depth, never recursed into.
MAX_ROW_DEPTH = 24


class ODataError(ValueError):
    """A query option the server cannot answer; the message says which and why."""


#: What an entity list's ``$filter`` compares (``…/datasets/<name>.svc/Entities``).
ENTITY_FILTER_FIELDS = (
    "__system/createdAt",
    "__system/updatedAt",
    "__system/creatorId",
    "__system/version",
    "__system/conflict",
)


def parse_filter(text: str, fields: tuple[str, ...] = FILTER_FIELDS) -> Predicate:
    """A predicate over a row's ``__system`` values (``{"__system/submissionDate": datetime…}``).

    ``fields`` are the names it may compare (a form's submissions by default). Raises
    ODataError for anything outside the subset (module doc).
    """
    tokens = _tokenize(text)
    parser = _Parser(tokens, fields)
    predicate = parser.parse_or()
    if parser.position != len(tokens):
        raise ODataError(f"Unexpected {tokens[parser.position][1]!r} in $filter.")
    return predicate


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ODataError(f"Cannot read $filter at {text[position : position + 20]!r}.")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


class _Parser:
    """Recursive descent: or_expr := and_expr ('or' and_expr)*; and_expr := unary ('and' unary)*."""

    def __init__(self, tokens: list[tuple[str, str]], fields: tuple[str, ...] = FILTER_FIELDS):
        self.tokens, self.position, self.depth, self.fields = tokens, 0, 0, fields

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ODataError("The $filter ends too early.")
        self.position += 1
        return token

    def parse_or(self) -> Predicate:
        terms = [self.parse_and()]
        while self.peek() == ("word", "or"):
            self.take()
            terms.append(self.parse_and())
        return terms[0] if len(terms) == 1 else (lambda row: any(t(row) for t in terms))

    def parse_and(self) -> Predicate:
        terms = [self.parse_unary()]
        while self.peek() == ("word", "and"):
            self.take()
            terms.append(self.parse_unary())
        return terms[0] if len(terms) == 1 else (lambda row: all(t(row) for t in terms))

    def parse_unary(self) -> Predicate:
        token = self.take()
        if token == ("word", "not") or token[0] == "open":
            self.depth += 1
            if self.depth > MAX_FILTER_DEPTH:
                raise ODataError(
                    f"$filter nests parentheses or 'not' more than {MAX_FILTER_DEPTH} levels deep."
                )
            try:
                return self._parse_nested(token)
            finally:
                self.depth -= 1
        return self._parse_comparison(token)

    def _parse_nested(self, token: tuple[str, str]) -> Predicate:
        if token == ("word", "not"):
            inner = self.parse_unary()
            return lambda row: not inner(row)
        inner = self.parse_or()
        if self.take()[0] != "close":
            raise ODataError("A parenthesis in $filter is not closed.")
        return inner

    def _parse_comparison(self, token: tuple[str, str]) -> Predicate:
        if token[0] != "word" or token[1] not in self.fields:
            raise ODataError(f"$filter can compare only {', '.join(self.fields)}; got {token[1]!r}.")
        field_name = token[1]
        operator = self.take()[1]
        if operator not in OPERATORS:
            raise ODataError(f"Unknown operator {operator!r} in $filter; use one of {', '.join(OPERATORS)}.")
        value = _read_literal(self.take(), field_name)
        return _comparison(field_name, operator, value)


def _read_literal(token: tuple[str, str], field_name: str) -> Any:
    kind, text = token
    if kind == "word" and text == "null":
        return None
    if field_name.endswith(("Date", "At")):
        if kind != "literal":
            raise ODataError(f"{field_name} compares with a date or timestamp, not {text!r}.")
        return _read_moment(text)
    if kind == "string":
        return text[1:-1].replace("''", "'")
    if field_name in ("__system/submitterId", "__system/creatorId") and kind == "literal" and text.isdigit():
        return text
    if field_name == "__system/version" and kind == "literal" and text.isdigit():
        return int(text)
    raise ODataError(f"Cannot compare {field_name} with {text!r}.")


def _read_moment(text: str) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ODataError(f"{text!r} is not a date or an ISO 8601 timestamp.") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _comparison(field_name: str, operator: str, value: Any) -> Predicate:
    def compare(row: Mapping[str, Any]) -> bool:
        actual = row.get(field_name)
        if operator == "eq":
            return actual == value
        if operator == "ne":
            return actual != value
        if actual is None or value is None:
            return False  # OData: an ordering comparison with null is false
        return {
            "lt": actual < value,
            "le": actual <= value,
            "gt": actual > value,
            "ge": actual >= value,
        }[operator]

    return compare


def parse_select(text: str | None) -> list[str] | None:
    """``$select=__id,label,village`` → the names to keep (None: every field)."""
    if text is None or not text.strip():
        return None
    names = [name.strip() for name in text.split(",")]
    if any(not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_/]*", name) for name in names):
        raise ODataError("$select is a comma-separated list of field names.")
    return names


def select_fields(row: Mapping[str, Any], names: list[str] | None) -> dict[str, Any]:
    """The row with only the ``$select``-ed fields (``group/field`` picks inside a group)."""
    if names is None:
        return dict(row)
    out: dict[str, Any] = {}
    for name in names:
        head, _, rest = name.partition("/")
        if head not in row:
            continue
        if rest and isinstance(row[head], Mapping):
            out.setdefault(head, {})[rest] = row[head].get(rest)
        else:
            out[head] = row[head]
    return out


def build_row(root: ET.Element, types: Mapping[str, str], *, wkt: bool = False) -> dict[str, Any]:
    """The OData row of an instance's answers: groups as nested objects, typed leaves.

    ``types`` is the form's ``fields`` (element name → bind type). ``int`` and ``decimal``
    become numbers, ``geopoint`` a GeoJSON point (or WKT text with ``wkt``), an empty answer
    ``null``; everything else stays text, as ODK Central renders it.

    Built without recursion, groups below ``MAX_ROW_DEPTH`` shown as null, so no stored
    instance can exhaust the stack here or in the JSON encoder.
    """
    row: dict[str, Any] = {}
    pending = [(row, root, 1)]  # (the object to fill, the element whose children fill it, its depth)
    while pending:
        into, element, depth = pending.pop()
        for child in element:  # keys go in in document order, whatever order groups are filled
            name = _local(child.tag)
            if not len(child):
                into[name] = _render_leaf(child, types, wkt)
            elif depth + 1 >= MAX_ROW_DEPTH:
                into[name] = None
            else:
                into[name] = {}
                pending.append((into[name], child, depth + 1))
    return row


def _render_leaf(element: ET.Element, types: Mapping[str, str], wkt: bool) -> Any:
    text = (element.text or "").strip()
    if not text:
        return None
    kind = types.get(_local(element.tag), "string")
    try:
        if kind == "int":
            return int(text)
        if kind == "decimal":
            return float(text)
        if kind == "geopoint":
            return _geopoint(text, wkt)
    except (ValueError, IndexError):
        return text  # an answer the type does not fit is shown as sent, not dropped
    return text


def _geopoint(text: str, wkt: bool) -> Any:
    parts = [float(p) for p in text.split()]
    latitude, longitude = parts[0], parts[1]
    coordinates = [longitude, latitude] + ([parts[2]] if len(parts) > 2 else [])
    if wkt:
        return "POINT (" + " ".join(_number(c) for c in coordinates) + ")"
    point: dict[str, Any] = {"type": "Point", "coordinates": coordinates}
    if len(parts) > 3:
        point["properties"] = {"accuracy": parts[3]}
    return point


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
