"""Conditional answers: an ``ETag`` on what a phone downloads again and again, and ``304``.

ODK Collect checks its forms every morning (formList, each form, each manifest, entity
lists); a phone that already holds everything should download nothing but headers. Any view
whose answer is a complete body (bytes, not a stream) ends with::

    return answer_conditionally(xml_response(body))

and gets a weak ``ETag`` computed from the body, ``Cache-Control: private, no-cache`` (the
answer depends on who asks - units, device keys in URLs - so no shared cache may keep it,
and a phone must revalidate before reusing it) and, when the request's ``If-None-Match``
names that tag, a ``304 Not Modified`` with no body, keeping the response's other headers
(the OpenRosa ones among them).

The tag is *weak* (``W/"…"``) on purpose: the same body goes out gzip-, brotli- or
zstd-encoded or not at all (flask-compress), and a weak tag says "the same content", which is
what revalidation asks. flask-compress leaves weak tags alone (it rewrites strong ones per
encoding), so the tag a phone stores matches whatever encoding it received.
"""

from __future__ import annotations

import hashlib

from flask import Response, request


def tag_of(body: bytes) -> str:
    """The entity tag of a body: the first 32 hex digits of its SHA-256."""
    return hashlib.sha256(body).hexdigest()[:32]


def answer_conditionally(response: Response, etag: str | None = None) -> Response:
    """``response`` with a weak ETag (``etag``, or one computed from its body), or a 304.

    Call it only on GET/HEAD answers that are the same for every request of the same user
    and URL until the data changes, and only with a buffered body (not a stream).
    Returns the same response object (200) or a fresh 304 carrying its headers but no body.
    """
    tag = etag if etag is not None else tag_of(response.get_data())
    response.set_etag(tag, weak=True)
    response.headers["Cache-Control"] = "private, no-cache"
    if request.method in ("GET", "HEAD") and request.if_none_match.contains_weak(tag):
        not_modified = Response(status=304)
        for key, value in response.headers.items():
            if key.lower() not in ("content-length", "content-type"):
                not_modified.headers.add(key, value)
        return not_modified
    return response
