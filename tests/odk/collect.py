"""A simulated ODK Collect for HTTP tests: OpenRosa requests exactly as the app makes them."""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET

from tests.conftest import PASSWORD

OPENROSA_NS = "{http://openrosa.org/http/response}"
FORMLIST_NS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"
# The smallest files each kind of question takes (magic bytes, then filler).
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 2000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 500


def basic_auth(username: str, password: str = PASSWORD) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Collect:
    """One phone running ODK Collect, set up with a username and password or a device key."""

    def __init__(self, client, username: str | None = None, key: str | None = None):
        self.client = client
        self.base = f"/v1/key/{key}/projects/1" if key else "/v1/projects/1"
        self.headers = {"X-OpenRosa-Version": "1.0", **(basic_auth(username) if username else {})}

    def form_list(self, form_id: str | None = None):
        url = f"{self.base}/formList" + (f"?formID={form_id}" if form_id else "")
        return self.client.get(url, headers=self.headers)

    def manifest(self, form_id: str) -> dict[str, tuple[str, str, str | None]]:
        """The form's manifest as ``{filename: (hash, downloadUrl path, type)}``."""
        resp = self.client.get(f"{self.base}/forms/{form_id}/manifest", headers=self.headers)
        assert resp.status_code == 200, resp.data
        root = SafeET.fromstring(resp.data)
        files = {}
        for item in root.findall(f"{MANIFEST_NS}mediaFile"):
            url = item.findtext(f"{MANIFEST_NS}downloadUrl").removeprefix("http://localhost")
            files[item.findtext(f"{MANIFEST_NS}filename")] = (
                item.findtext(f"{MANIFEST_NS}hash"),
                url,
                item.get("type"),
            )
        return files

    def download(self, form_id: str, filename: str, etag: str | None = None):
        """A media file as Collect downloads it (with ``If-None-Match`` when it holds a copy)."""
        headers = {**self.headers, **({"If-None-Match": etag} if etag else {})}
        return self.client.get(f"{self.base}/forms/{form_id}/attachments/{filename}", headers=headers)

    def submit(self, xml: bytes, media: dict[str, bytes] | None = None, content_type: str = "image/jpeg"):
        """POST one instance with its media, multipart, the parts named by file name."""
        data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
        for name, content in (media or {}).items():
            data[name] = (io.BytesIO(content), name, content_type)
        return self.client.post(
            f"{self.base}/submission", headers=self.headers, data=data, content_type="multipart/form-data"
        )


def message_of(response) -> tuple[str, str]:
    """The ``<message>`` text and its ``nature`` in an OpenRosaResponse."""
    root = SafeET.fromstring(response.data)
    assert root.tag == f"{OPENROSA_NS}OpenRosaResponse", response.data
    message = root.find(f"{OPENROSA_NS}message")
    return message.text or "", message.get("nature", "")


def listed_forms(response) -> dict[str, ET.Element]:
    root = SafeET.fromstring(response.data)
    return {x.findtext(f"{FORMLIST_NS}formID"): x for x in root.findall(f"{FORMLIST_NS}xform")}


def assert_openrosa_headers(response) -> None:
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert int(response.headers["X-OpenRosa-Accept-Content-Length"]) > 0
    assert response.headers["Date"].endswith("GMT")
