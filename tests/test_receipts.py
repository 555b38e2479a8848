"""Signed push receipts: each push answer carries the server's Ed25519 signature over its
batch_id and results; the public key is at GET /api/v1/receipt-key; `flask --app wsgi
verify-receipt FILE` proves a saved answer; a re-sent batch gets the same answer and receipt."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests import factories as f
from tests.phones import Phone, statuses


def documented_message(answer: dict) -> bytes:
    """docs/protocol.md's canonical form, written out again here rather than imported."""
    receipt = answer["receipt"]
    body = {
        "batch_id": answer["batch_id"],
        "key_id": receipt["key_id"],
        "results": answer["results"],
        "signed_at": receipt["signed_at"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def pushed(client, auth) -> tuple[Phone, dict]:
    phone = Phone(client, auth.headers("collaborator"))
    phone.create("households", f.household(head_name="Hồ Thị Xuân Lan"))
    phone.create("households", f.household(members=0))  # rejected: the receipt covers refusals too
    answer = phone.push()
    assert statuses(answer) == ["applied", "rejected"]
    return phone, answer


def test_a_push_answer_is_signed_with_the_published_key(app, client, auth):
    _, answer = pushed(client, auth)
    receipt = answer["receipt"]
    assert set(receipt) == {"alg", "key_id", "signed_at", "signature"} and receipt["alg"] == "Ed25519"
    published = client.get("/api/v1/receipt-key")  # no login: anyone may check
    assert published.status_code == 200
    key = published.get_json()
    raw = base64.b64decode(key["public_key"])
    assert key["key_id"] == receipt["key_id"] == hashlib.sha256(raw).hexdigest()[:16]
    public = Ed25519PublicKey.from_public_bytes(raw)
    public.verify(base64.b64decode(receipt["signature"]), documented_message(answer))
    forged = json.loads(json.dumps(answer))
    forged["results"][1]["status"] = "applied"
    try:
        public.verify(base64.b64decode(receipt["signature"]), documented_message(forged))
        raise AssertionError("a changed result still verified")
    except InvalidSignature:
        pass


def test_a_resent_batch_returns_the_same_answer_and_receipt(app, client, auth):
    phone, answer = pushed(client, auth)
    phone.outbox = phone.last_batch["changes"]
    again = phone.push(batch_id=phone.last_batch["batch_id"])
    assert again == answer


def test_verify_receipt_proves_a_saved_answer_and_refuses_a_changed_one(app, client, auth, runner, tmp_path):
    _, answer = pushed(client, auth)
    saved = tmp_path / "answer.json"
    saved.write_text(json.dumps(answer, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["verify-receipt", str(saved)])
    assert result.exit_code == 0, result.output
    assert f"receipt valid: batch {answer['batch_id']}, 2 results" in result.output

    key_file = tmp_path / "key.json"
    key_file.write_text(client.get("/api/v1/receipt-key").get_data(as_text=True))
    result = runner.invoke(args=["verify-receipt", str(saved), "--public-key", str(key_file)])
    assert result.exit_code == 0, result.output

    answer["results"][0]["version"] = 2
    saved.write_text(json.dumps(answer), encoding="utf-8")
    result = runner.invoke(args=["verify-receipt", str(saved)])
    assert result.exit_code == 1 and "NOT valid" in result.output

    saved.write_text("not json")
    result = runner.invoke(args=["verify-receipt", str(saved)])
    assert result.exit_code == 1 and "not a JSON push answer" in result.output


def test_the_key_comes_from_receipt_key_file_when_set(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from server.receipts.keys import ReceiptKeyError, load_receipt_key

    private = Ed25519PrivateKey.generate()
    pem = tmp_path / "receipts.pem"
    pem.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    loaded = load_receipt_key(str(pem), str(tmp_path / "instance"))
    assert (
        loaded.public_document()["public_key"]
        == base64.b64encode(
            private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        ).decode()
    )
    assert not (tmp_path / "instance" / "receipt_key.pem").exists()
    # Unset: made once in the instance folder, and the same key read back after.
    made = load_receipt_key(None, str(tmp_path / "instance"))
    assert load_receipt_key(None, str(tmp_path / "instance")).key_id == made.key_id
    pem.write_text("garbage")
    try:
        load_receipt_key(str(pem), str(tmp_path))
        raise AssertionError("a bad key file was accepted")
    except ReceiptKeyError:
        pass
