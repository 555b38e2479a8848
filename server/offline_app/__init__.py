"""The collaborator's offline app at ``/app/``: an installable web app and the reference client
of the JSON sync protocol.

The server only hands out files: the shell page, plain JavaScript modules (no build step, no
library from anywhere else), a stylesheet, a web app manifest with icons, and a service worker
that keeps all of them on the phone, so the app opens with no signal. Everything the app
knows of the commune lives in the phone's IndexedDB, pulled by cursor; every write goes out
through ``POST /api/v1/sync/push`` as a batch of changes, photos through ``/api/v1/uploads``.
The CSP is the pages' own: scripts from this server only, nothing from any other host.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from flask import Blueprint, Flask, Response, redirect, send_from_directory

from server.vocabulary import WORDS

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
PREFIX = "/app"
# blob: shows a photo just taken, before it is uploaded; connect-src 'self': the API only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'"
)

blp = Blueprint("offline_app", __name__, url_prefix=PREFIX)


@blp.after_request
def protect(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # The service worker decides what the phone keeps; the browser's HTTP cache must not
    # hand it a stale copy when a new version is deployed.
    response.headers["Cache-Control"] = "no-cache"
    return response


@cache
def shell_files() -> tuple[tuple[str, ...], str]:
    """Every file of the shell (URLs) and a version naming their exact contents."""
    digest = hashlib.sha256()
    urls = [f"{PREFIX}/", f"{PREFIX}/manifest.webmanifest", f"{PREFIX}/vocabulary.js"]
    digest.update((HERE / "index.html").read_bytes())
    digest.update((HERE / "manifest.webmanifest").read_bytes())
    digest.update(vocabulary_module().encode("utf-8"))
    for path in sorted(p for p in STATIC.rglob("*") if p.is_file()):
        urls.append(f"{PREFIX}/static/{path.relative_to(STATIC).as_posix()}")
        digest.update(path.read_bytes())
    return tuple(urls), digest.hexdigest()[:16]


@blp.route("")
def bare():
    return redirect(f"{PREFIX}/", code=308)


@blp.route("/")
def shell():
    """The one page of the app; the scripts draw everything else."""
    return send_from_directory(HERE, "index.html", mimetype="text/html", max_age=0)


@blp.route("/manifest.webmanifest")
def manifest():
    return send_from_directory(HERE, "manifest.webmanifest", mimetype="application/manifest+json", max_age=0)


@blp.route("/sw.js")
def service_worker():
    """The service worker, with the list of shell files and their version written in."""
    urls, version = shell_files()
    head = f"const VERSION = {json.dumps(version)};\nconst SHELL = {json.dumps(list(urls))};\n"
    body = head + (HERE / "sw.js").read_text(encoding="utf-8")
    return Response(body, mimetype="text/javascript", headers={"Service-Worker-Allowed": f"{PREFIX}/"})


@cache
def vocabulary_module() -> str:
    """The programme's words (``server/vocabulary.py``) as the module the app's texts import."""
    return f"export const VOCABULARY = {json.dumps(WORDS, ensure_ascii=False, sort_keys=True)};\n"


@blp.route("/vocabulary.js")
def vocabulary():
    return Response(vocabulary_module(), mimetype="text/javascript")


@blp.route("/static/<path:filename>")
def static_file(filename: str):
    return send_from_directory(STATIC, filename, max_age=0)


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
