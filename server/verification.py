"""``flask --app wsgi verify-audit`` and ``verify-receipt FILE``: check the trail's hash chain
and a phone's saved push answer against this deployment's receipt key."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import current_app
from flask.cli import with_appcontext

from server.receipts.keys import check_receipt
from server.store import audit as audit_store


@click.command("verify-audit")
@with_appcontext
def verify_audit() -> None:
    """Walk the audit trail's hash chain; name the first entry that does not match."""
    found, checked, head = audit_store.verify_chain()
    if found is not None:
        where = f"audit entry id {found.row_id}" if found.row_id is not None else "the trail's end"
        raise click.ClickException(
            f"audit chain broken at position {found.position} ({where}): {found.problem}; "
            f"{checked} entries read"
        )
    if head is None:
        click.echo("audit chain intact: no entries")
    else:
        click.echo(f"audit chain intact: {checked} entries, head {head[0]} {head[1]}")


@click.command("verify-receipt")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(exists=True, dir_okay=False),
    help="The receipt key as GET /api/v1/receipt-key answered it (JSON), or its PEM; "
    "default: this deployment's own key.",
)
@with_appcontext
def verify_receipt(file: str, public_key: str | None) -> None:
    """Prove that the server signed FILE, a saved push answer: its batch_id and every result."""
    try:
        answer = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{file}: not a JSON push answer ({exc})") from exc
    if not isinstance(answer, dict) or "batch_id" not in answer or "results" not in answer:
        raise click.ClickException(f"{file}: not a push answer (no batch_id and results)")
    public = read_public_key(public_key) if public_key else current_app.extensions["receipt_key"].public
    problem = check_receipt(answer, public)
    if problem:
        raise click.ClickException(f"{file}: receipt NOT valid: {problem}")
    receipt = answer["receipt"]
    click.echo(
        f"receipt valid: batch {answer['batch_id']}, {len(answer['results'])} results, "
        f"signed {receipt['signed_at']} by key {receipt['key_id']}"
    )


def read_public_key(path: str) -> Ed25519PublicKey:
    text = Path(path).read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("{"):
            return Ed25519PublicKey.from_public_bytes(base64.b64decode(json.loads(text)["public_key"]))
        key = serialization.load_pem_public_key(text.encode("ascii"))
    except (ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"{path}: not an Ed25519 public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise click.ClickException(f"{path}: not an Ed25519 public key")
    return key
