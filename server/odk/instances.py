"""Submitted form instances: parsed safely, read by element name.

An instance is the XML ODK Collect or Enketo sends as ``xml_submission_file``:

    <data id="exit_registration" version="2026112901" xmlns:jr="..." xmlns:orx="...">
      <household><household_id>…</household_id>…</household>
      <meta><instanceID>uuid:…</instanceID><deprecatedID>uuid:…</deprecatedID></meta>
    </data>

It comes from the network, so it is parsed with defusedxml and no DTD at all: a document
type declaration is refused before any entity is defined, which stops entity-expansion bombs
("billion laughs") and external entities (file or URL reads) at the first line. No ODK client
ever sends a DTD. Fields are found by element name at any group depth (the shipped forms keep
names unique, see ``forms.py``), and namespaces are ignored, since clients differ in whether
they qualify ``meta``.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - only for ParseError; parsing goes through defusedxml
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import defusedxml
import defusedxml.ElementTree as SafeET

INSTANCE_ID_PREFIX = "uuid:"
# The deepest nesting of elements an instance may have. The shipped forms nest a leaf three
# or four levels down (root, group, subgroup, leaf); ODK forms rarely pass ten. Far deeper XML
# is no form's answer, and every reader after intake (OData rows, JSON, review pages) may
# then rely on a bound.
MAX_INSTANCE_DEPTH = 24


class InstanceError(ValueError):
    """A submitted instance the server cannot take; ``message`` says why, for the submitter.

    ``details`` maps field names to lists of messages, like the contract's validation errors.
    """

    code = "invalid_submission"

    def __init__(self, message: str, details: Mapping[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.details: dict[str, list[str]] = dict(details or {})


class UnsafeXmlError(InstanceError):
    """The XML declares a DTD, entities or external references: refused without expanding them."""

    code = "unsafe_xml"


class MalformedXmlError(InstanceError):
    """The body is not well-formed XML."""

    code = "malformed_xml"


class TooDeepInstanceError(InstanceError):
    """Elements nested deeper than ``MAX_INSTANCE_DEPTH``: refused (400) before anything is kept."""

    code = "invalid_submission"


class InvalidInstanceError(InstanceError):
    """Well-formed XML that is not a usable instance: no form id, a bad instanceID, bad fields."""

    code = "validation_error"


@dataclass(frozen=True)
class EntityBlock:
    """The instance's ``meta/entity`` (ODK XForms entities spec): what it does to an entity list.

    ``base_version`` is the entity version the phone's copy had when the form was filled;
    ``trunk_version`` and ``branch_id`` are set by Collect when that copy was itself made by
    an earlier form on the same phone, not yet synced (offline entities): the forms of one
    branch follow each other, starting from the server's version ``trunk_version``.
    """

    dataset: str
    entity_id: str | None
    create: bool
    update: bool
    base_version: int | None
    trunk_version: int | None
    branch_id: str | None
    label: str | None


@dataclass(frozen=True)
class Instance:
    """A parsed submission: which form, which instance, and every answer by element name."""

    form_id: str
    version: str | None
    instance_id: str  # "uuid:<uuid>", lower-case canonical form
    deprecated_id: str | None  # the instanceID this one replaces, when it is an edit
    fields: Mapping[str, str] = field(repr=False)  # leaf element name -> text, stripped
    entity: EntityBlock | None = None  # the meta/entity block, when the form declares one

    @property
    def uuid(self) -> str:
        """The instance's UUID without the ``uuid:`` prefix."""
        return self.instance_id.removeprefix(INSTANCE_ID_PREFIX)

    @property
    def is_edit(self) -> bool:
        """Whether this instance replaces an earlier one (it carries a ``deprecatedID``)."""
        return self.deprecated_id is not None

    def get(self, name: str) -> str | None:
        """The answer to ``name``, or None when the element is absent or empty."""
        value = self.fields.get(name)
        return value or None


def parse_instance(xml: bytes | str) -> Instance:
    """Parse submitted instance XML.

    Raises UnsafeXmlError for any DTD, entity or external reference, MalformedXmlError for
    XML that does not parse, and InvalidInstanceError for a root without an ``id``, a missing
    or malformed ``meta/instanceID`` (or ``deprecatedID``), or an element name used twice
    (a repeat group, which the shipped forms do not have); TooDeepInstanceError for elements
    nested deeper than ``MAX_INSTANCE_DEPTH``.
    """
    root = parse_untrusted_xml(xml)
    depth = measure_depth(root, MAX_INSTANCE_DEPTH)
    if depth > MAX_INSTANCE_DEPTH:
        raise TooDeepInstanceError(
            f"The instance nests elements more than {MAX_INSTANCE_DEPTH} levels deep; "
            "no form of this project does. Send the instance the form produced.",
            {"xml_submission_file": [f"nested more than {MAX_INSTANCE_DEPTH} levels deep"]},
        )
    form_id = (root.get("id") or "").strip()
    if not form_id:
        raise InvalidInstanceError(
            "The instance's root element has no id attribute naming its form.", {"id": ["is required"]}
        )
    version = (root.get("version") or "").strip() or None

    meta = next((child for child in root if _local_name(child.tag) == "meta"), None)
    meta_fields = _read_leaves(meta) if meta is not None else {}
    instance_id = _read_instance_id(meta_fields.get("instanceID"), "instanceID", required=True)
    deprecated_id = _read_instance_id(meta_fields.get("deprecatedID"), "deprecatedID", required=False)
    if deprecated_id == instance_id:
        raise InvalidInstanceError(
            "An edited instance needs a new instanceID.", {"instanceID": ["equals deprecatedID"]}
        )
    return Instance(
        form_id=form_id,
        version=version,
        instance_id=instance_id,
        deprecated_id=deprecated_id,
        fields=_read_leaves(root),
        entity=_read_entity_block(meta),
    )


def _read_entity_block(meta: ET.Element | None) -> EntityBlock | None:
    element = None if meta is None else next((c for c in meta if _local_name(c.tag) == "entity"), None)
    if element is None:
        return None
    dataset = (element.get("dataset") or "").strip()
    if not dataset:
        raise InvalidInstanceError("meta/entity names no dataset.", {"entity": ["needs a dataset"]})
    entity_id = (element.get("id") or "").strip().removeprefix(INSTANCE_ID_PREFIX) or None
    if entity_id is not None:
        try:
            entity_id = str(uuid.UUID(entity_id))
        except ValueError:
            raise InvalidInstanceError(
                "meta/entity has an id that is not a UUID.", {"entity": ["id must be a UUID"]}
            ) from None
    label = next((c for c in element if _local_name(c.tag) == "label"), None)
    return EntityBlock(
        dataset=dataset,
        entity_id=entity_id,
        create=_read_flag(element.get("create")),
        update=_read_flag(element.get("update")),
        base_version=_read_version(element.get("baseVersion"), "baseVersion"),
        trunk_version=_read_version(element.get("trunkVersion"), "trunkVersion"),
        branch_id=(element.get("branchId") or "").strip()[:64] or None,
        label=((label.text or "").strip() or None) if label is not None else None,
    )


def _read_flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


def _read_version(value: str | None, name: str) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise InvalidInstanceError(
            f"meta/entity {name} must be a version number.",
            {"entity": [f"{name} must be a whole number ≥ 1"]},
        )
    return int(text)


def list_expected_attachments(instance: Instance, binary_fields: Iterable[str]) -> list[str]:
    """The file names the instance's file answers name: the attachments it should arrive with.

    ``binary_fields`` is the form's ``FormDefinition.binary_fields``. Collect names files like
    ``1588381500123.jpg``; a name that is a path (separators, ``..``, control characters) is
    refused, so a stored attachment can never be addressed outside its submission.
    """
    names = []
    for field_name in sorted(binary_fields):
        value = instance.get(field_name)
        if value is None:
            continue
        if not _is_plain_file_name(value):
            raise InvalidInstanceError(
                f"{field_name} must name a file, not a path.", {field_name: ["must be a plain file name"]}
            )
        names.append(value)
    return names


def measure_depth(root: ET.Element, limit: int) -> int:
    """How deep elements nest below and including ``root`` (a lone root is 1), without
    recursion; stops counting once past ``limit`` (returns ``limit + 1``)."""
    deepest, level = 0, [(root, 1)]
    while level:
        element, depth = level.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return limit + 1
        level.extend((child, depth + 1) for child in element)
    return deepest


def parse_untrusted_xml(xml: bytes | str) -> ET.Element:
    """Parse XML from the network with DTDs, entities and external references forbidden."""
    try:
        return SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise UnsafeXmlError(
            "The XML declares a DTD or entities, which are not accepted in submissions."
        ) from exc
    except ET.ParseError as exc:
        raise MalformedXmlError(f"The submission is not well-formed XML: {exc}.") from exc


def _read_leaves(element: ET.Element) -> dict[str, str]:
    # Leaves only: a group's own text is the whitespace between its children.
    fields: dict[str, str] = {}
    repeated: set[str] = set()
    for node in element.iter():
        if len(node) or node is element:
            continue
        name = _local_name(node.tag)
        if name in fields:
            repeated.add(name)
        fields[name] = (node.text or "").strip()
    if repeated:
        raise InvalidInstanceError(
            "The instance repeats element names; this form has no repeat groups.",
            {name: ["appears more than once"] for name in sorted(repeated)},
        )
    return fields


def _read_instance_id(value: str | None, name: str, *, required: bool) -> str | None:
    if not value:
        if required:
            raise InvalidInstanceError(f"The instance has no meta/{name}.", {name: ["is required"]})
        return None
    if not value.lower().startswith(INSTANCE_ID_PREFIX):
        raise InvalidInstanceError(
            f"meta/{name} must look like uuid:<uuid>.", {name: ["must be uuid:<uuid>"]}
        )
    try:
        parsed = uuid.UUID(value[len(INSTANCE_ID_PREFIX) :])
    except ValueError:
        raise InvalidInstanceError(
            f"meta/{name} must look like uuid:<uuid>.", {name: ["must be uuid:<uuid>"]}
        ) from None
    return f"{INSTANCE_ID_PREFIX}{parsed}"


def _is_plain_file_name(name: str) -> bool:
    return (
        len(name) <= 255
        and name not in (".", "..")
        and not any(char in name for char in "/\\")
        and all(char.isprintable() for char in name)
    )


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
