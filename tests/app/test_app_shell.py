"""The offline app's files as the server hands them out: the shell, its CSP, the manifest and
icons, and a service worker that keeps exactly the files the app needs - none from elsewhere."""

from __future__ import annotations

import json
import posixpath
import re

from server.offline_app import STATIC


def test_the_shell_is_served_with_the_pages_csp(client):
    assert client.get("/app").status_code == 308
    page = client.get("/app/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert '<script type="module" src="/app/static/js/main.js">' in page.get_data(as_text=True)
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_the_manifest_makes_it_installable(client):
    resp = client.get("/app/manifest.webmanifest")
    assert resp.mimetype == "application/manifest+json"
    manifest = json.loads(resp.data)
    assert (manifest["start_url"], manifest["display"], manifest["lang"]) == ("/app/", "standalone", "vi")
    sizes = set()
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
        sizes.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes


def test_the_service_worker_keeps_every_file_of_the_shell_and_nothing_from_elsewhere(client):
    worker = client.get("/app/sw.js")
    assert worker.mimetype == "text/javascript"
    text = worker.get_data(as_text=True)
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", text).group(1))
    files = {f"/app/static/{p.relative_to(STATIC).as_posix()}" for p in STATIC.rglob("*") if p.is_file()}
    assert files <= set(shell) and "/app/" in shell
    for url in shell:
        resp = client.get(url)
        assert resp.status_code == 200, url
        body = resp.get_data()
        if url.endswith((".js", ".css", "/")):
            # No script, style or font from another host: every reference is to this server.
            assert not re.search(rb"(?:src|href|import|url)\s*\(?\s*[\"']?(?:https?:)?//", body), url
    # The JavaScript modules import by relative path only, and only what the worker keeps.
    for path in (STATIC / "js").glob("*.js"):
        for target in re.findall(r'from "([^"]+)"', path.read_text()):
            assert target.startswith(("./", "../")), (path.name, target)
            assert posixpath.normpath(posixpath.join("/app/static/js", target)) in shell, (path.name, target)
    assert re.search(r'const VERSION = "[0-9a-f]{16}"', text)


def test_the_app_names_things_as_the_pages_and_odk_do(client):
    """The programme's words are served to the app from the one vocabulary, and it names every
    choice a record can hold, in both languages."""
    from server.vocabulary import WORDS
    from sync.records import FUNDING_SOURCES, HOUSEHOLD_CATEGORIES, NEEDS, PAYOUT_KINDS, REGISTRATION_KINDS

    resp = client.get("/app/vocabulary.js")
    assert resp.status_code == 200 and resp.mimetype == "text/javascript"
    module = re.fullmatch(r"export const VOCABULARY = (.*);\n", resp.get_data(as_text=True))
    served = json.loads(module.group(1))
    assert served == WORDS
    groups = {
        "category": HOUSEHOLD_CATEGORIES,
        "kind": REGISTRATION_KINDS,
        "need": NEEDS,
        "funding": FUNDING_SOURCES,
        "payout": PAYOUT_KINDS,
    }
    named = {f"{group}.{value}" for group, values in groups.items() for value in values}
    for language in ("vi", "en"):
        assert set(WORDS[language]) == named
