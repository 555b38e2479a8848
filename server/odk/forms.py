"""The forms the project ships: XLSForms in ``forms/`` compiled to XForms with pyxform.

The ``.xlsx`` files are the sources; nobody writes XForm XML by hand. Each file is named after
its ``form_id`` (``exit_registration.xlsx`` holds form ``exit_registration``), and optional form
media (files the form itself needs on the phone, e.g. a CSV of choices) live beside it in
``<form_id>-media/``, the layout ODK Collect uses on the device.

Editing a form: change the ``.xlsx``, then bump ``version`` in its ``settings`` sheet
(convention ``yyyymmddnn``, e.g. ``2026112902`` for the second release that day). Phones see the
new ``hash`` in the form list and download the form again; the ``version`` is how a submission
says which edition of the form filled it, so two different forms must never share one.
``releases.json`` lists every edition ever published with a digest of its content; a
submission naming a version not in it is refused, and ``tests/odk/test_odk_forms.py`` fails
when a form's content changes without a new version recorded there.

Compiling is pure: the result depends only on the file's bytes, so it is cached in-process,
keyed by those bytes, and every worker computes the same XForm and hash.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml.ElementTree as SafeET
from pyxform.errors import PyXFormError
from pyxform.xls2xform import convert

FORMS_DIRECTORY = Path(__file__).with_name("forms")

XFORMS_NS = "http://www.w3.org/2002/xforms"
XHTML_NS = "http://www.w3.org/1999/xhtml"
CSV_INSTANCE_PREFIX = "jr://file-csv/"


class FormError(Exception):
    """Base class of the problems with the shipped forms."""


class FormCompileError(FormError):
    """An XLSForm that pyxform refuses, warns about, or that breaks a rule of this project."""


class UnknownFormError(FormError, LookupError):
    """No shipped form has this form id (the OpenRosa and Central routes answer 404)."""


@dataclass(frozen=True)
class MediaFile:
    """A file a form needs on the phone, listed in the form's OpenRosa manifest."""

    name: str
    content: bytes
    hash: str  # "md5:<hex>", as OpenRosa manifests write it


@dataclass(frozen=True)
class FormDefinition:
    """A shipped form, compiled: what the form list, the XForm download and submissions need."""

    form_id: str
    title: str
    version: str
    xform: bytes
    hash: str  # "md5:<hex>" of ``xform``, the exact bytes served
    # Every leaf element of the main instance, by element name, with its XForm bind type
    # ("string", "int", "date", "dateTime", "geopoint", "binary", ...). Names are unique at
    # any group depth, which is what lets a submitted instance be read by name.
    fields: Mapping[str, str]
    media: tuple[MediaFile, ...] = field(default=())
    # The ``mediatype`` of each file question (``image/*``, ``audio/*``, ``video/*``), by
    # element name: what the attachment answering it must be. A plain file question has none.
    media_types: Mapping[str, str] = field(default_factory=dict)
    # Every version of this form ever published (``releases.json`` beside the forms), the
    # current one included: the editions a phone may still fill in and submit.
    published_versions: frozenset[str] = field(default=frozenset())

    def was_published(self, version: str | None) -> bool:
        """Whether a submission naming ``version`` fills an edition this server published."""
        return version is not None and (version == self.version or version in self.published_versions)

    # The CSV files the form reads as external instances (``jr://file-csv/<name>``), e.g.
    # ``households.csv`` of a ``select_one_from_file``: per-user entity lists, or media.
    csv_files: tuple[str, ...] = ()

    @property
    def has_media(self) -> bool:
        """Whether the form list gives this form a ``manifestUrl``."""
        return bool(self.media or self.csv_files)

    @property
    def binary_fields(self) -> frozenset[str]:
        """Fields whose answer is a file name, the file arriving as a submission attachment."""
        return frozenset(name for name, kind in self.fields.items() if kind == "binary")

    def find_media(self, name: str) -> MediaFile | None:
        """The media file called ``name``, or None."""
        return next((m for m in self.media if m.name == name), None)


@dataclass(frozen=True)
class _CompiledXForm:
    form_id: str
    title: str
    version: str
    xform: bytes
    fields: Mapping[str, str]
    media_types: Mapping[str, str]
    csv_files: tuple[str, ...] = ()


def list_forms(directory: Path = FORMS_DIRECTORY) -> list[FormDefinition]:
    """Every shipped form, compiled, in form id order.

    Raises FormCompileError when a form does not compile cleanly or when a file's name
    differs from its form id (which also keeps form ids unique). Spreadsheet lock files
    (``~$name.xlsx``, left while an editor has the file open) are skipped.
    """
    paths = sorted(p for p in directory.glob("*.xlsx") if not p.name.startswith("~$"))
    return [compile_form(path) for path in paths]


def get_form(form_id: str, directory: Path = FORMS_DIRECTORY) -> FormDefinition:
    """The shipped form with this id; UnknownFormError if there is none.

    Looks the id up among the compiled forms rather than building a path from it, so an id
    taken from a URL can never reach a file outside the forms directory.
    """
    for form in list_forms(directory):
        if form.form_id == form_id:
            return form
    raise UnknownFormError(f"no form with id {form_id!r}")


def compile_form(path: Path) -> FormDefinition:
    """Compile one XLSForm file (cached by its content) and attach its media files."""
    compiled = _compile_xlsform(path.read_bytes(), path.name)
    if compiled.form_id != path.stem:
        raise FormCompileError(
            f"{path.name}: the settings sheet says form_id {compiled.form_id!r}; "
            f"the file must be named {compiled.form_id}.xlsx"
        )
    return FormDefinition(
        form_id=compiled.form_id,
        title=compiled.title,
        version=compiled.version,
        xform=compiled.xform,
        hash=md5_hash(compiled.xform),
        fields=compiled.fields,
        media_types=compiled.media_types,
        csv_files=compiled.csv_files,
        media=read_media(path.with_name(f"{compiled.form_id}-media")),
        published_versions=frozenset(read_releases(path.parent).get(compiled.form_id, {}))
        | {compiled.version},
    )


RELEASES_FILE = "releases.json"


def read_releases(directory: Path = FORMS_DIRECTORY) -> dict[str, dict[str, str]]:
    """``{form_id: {version: content digest}}``: every edition published, from ``releases.json``.

    A directory without the file has published only its forms' current versions.
    """
    path = directory / RELEASES_FILE
    if not path.is_file():
        return {}
    releases = json.loads(path.read_text(encoding="utf-8"))
    return {form_id: dict(versions) for form_id, versions in releases.items() if not form_id.startswith("_")}


def read_media(directory: Path) -> tuple[MediaFile, ...]:
    """The files of a form's media folder (none when the folder does not exist)."""
    if not directory.is_dir():
        return ()
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    return tuple(MediaFile(p.name, content, md5_hash(content)) for p in files for content in [p.read_bytes()])


def md5_hash(content: bytes) -> str:
    """The ``md5:<hex>`` form OpenRosa uses for form and media hashes (not a security measure)."""
    return "md5:" + hashlib.md5(content, usedforsecurity=False).hexdigest()


@functools.lru_cache(maxsize=32)
def _compile_xlsform(source: bytes, filename: str) -> _CompiledXForm:
    # Keyed by the file's bytes: an edited file is a new key, so the cache never goes stale.
    warnings: list[str] = []
    try:
        result = convert(xlsform=source, file_type=".xlsx", warnings=warnings, pretty_print=True)
    except PyXFormError as exc:
        raise FormCompileError(f"{filename}: {exc}") from exc
    if warnings:
        # A warning is a form that may misbehave on phones; fix the XLSForm rather than ship it.
        raise FormCompileError(f"{filename}: pyxform warnings: " + "; ".join(warnings))
    xform = result.xform.encode("utf-8")
    return _describe_xform(xform, filename)


def _describe_xform(xform: bytes, filename: str) -> _CompiledXForm:
    """Read the form id, version, title and fields back from the compiled XForm."""
    html = SafeET.fromstring(xform)
    title = html.findtext(f"{{{XHTML_NS}}}head/{{{XHTML_NS}}}title", default="")
    model = html.find(f"{{{XHTML_NS}}}head/{{{XFORMS_NS}}}model")
    if model is None:
        raise FormCompileError(f"{filename}: the XForm has no model")
    main = next((i for i in model.findall(f"{{{XFORMS_NS}}}instance") if "id" not in i.attrib), None)
    if main is None or len(main) != 1:
        raise FormCompileError(f"{filename}: the XForm has no main instance")
    root = main[0]
    form_id = root.get("id")
    version = root.get("version")
    if not form_id:
        raise FormCompileError(f"{filename}: the settings sheet needs a form_id")
    if not version:
        raise FormCompileError(f"{filename}: the settings sheet needs a version (see server/odk/forms.py)")

    bind_types = {
        bind.get("nodeset"): bind.get("type", "string") for bind in model.findall(f"{{{XFORMS_NS}}}bind")
    }
    fields: dict[str, str] = {}
    for path, name in _leaf_paths(root, ""):
        if name in fields:
            raise FormCompileError(
                f"{filename}: element name {name!r} is used twice; names must be unique at any group depth"
            )
        fields[name] = bind_types.get(path, "string")
    media_types = {
        upload.get("ref", "").rsplit("/", 1)[-1]: upload.get("mediatype", "")
        for upload in html.iter(f"{{{XFORMS_NS}}}upload")
    }
    csv_files = tuple(
        src.removeprefix(CSV_INSTANCE_PREFIX)
        for instance in model.findall(f"{{{XFORMS_NS}}}instance")
        if (src := instance.get("src", "")).startswith(CSV_INSTANCE_PREFIX)
    )
    return _CompiledXForm(
        form_id=form_id,
        title=title or form_id,
        version=version,
        xform=xform,
        fields=fields,
        media_types={name: kind for name, kind in media_types.items() if name in fields and kind},
        csv_files=csv_files,
    )


def _leaf_paths(element, parent: str):
    """(absolute path, name) of every leaf below ``element``, as bind nodesets write paths."""
    name = element.tag.rsplit("}", 1)[-1]
    path = f"{parent}/{name}"
    if len(element) == 0:
        yield path, name
        return
    for child in element:
        yield from _leaf_paths(child, path)
