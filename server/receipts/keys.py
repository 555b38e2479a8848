"""The deployment's receipt key, and signing and checking a push answer with it.

A push answer's ``receipt`` is ``{"alg": "Ed25519", "key_id", "signed_at", "signature"}``:
the signature (standard base64) over ``receipt_message`` - the UTF-8 JSON object
``{"batch_id", "key_id", "results", "signed_at"}`` of the answer, keys sorted at every level,
no spaces (``separators=(",", ":")``), non-ASCII characters kept as they are. ``key_id`` is
the first 16 hex digits of the SHA-256 of the raw 32-byte public key. A phone keeps the
answer; anyone with the public key (``GET /api/v1/receipt-key``) can check that the server
acknowledged exactly those results for that batch.

The key: ``RECEIPT_KEY_FILE`` names a PEM (PKCS#8) Ed25519 private key - every host of a
deployment must use the same one. Unset, a key is generated once into the instance folder
(``receipt_key.pem``), as the development SECRET_KEY is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)
ALG = "Ed25519"
KEY_FILE_NAME = "receipt_key.pem"


class ReceiptKeyError(RuntimeError):
    """The configured receipt key cannot be read."""


def receipt_message(batch_id: str, results: Any, signed_at: str, key_id: str) -> bytes:
    """The exact bytes a receipt signs (see the module doc and docs/protocol.md)."""
    body = {"batch_id": batch_id, "key_id": key_id, "results": results, "signed_at": signed_at}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(public)).hexdigest()[:16]


@dataclass(frozen=True)
class ReceiptKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public)

    def sign(self, answer: Mapping[str, Any], now: datetime) -> dict[str, str]:
        """The receipt of a push answer (its ``batch_id`` and ``results``), signed at ``now``."""
        signed_at = now.astimezone(UTC).isoformat()
        message = receipt_message(answer["batch_id"], answer["results"], signed_at, self.key_id)
        signature = base64.b64encode(self.private.sign(message)).decode("ascii")
        return {"alg": ALG, "key_id": self.key_id, "signed_at": signed_at, "signature": signature}

    def public_document(self) -> dict[str, str]:
        """What ``GET /api/v1/receipt-key`` answers."""
        pem = self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "alg": ALG,
            "key_id": self.key_id,
            "public_key": base64.b64encode(raw_public(self.public)).decode("ascii"),
            "public_key_pem": pem.decode("ascii"),
        }


def check_receipt(answer: Mapping[str, Any], public: Ed25519PublicKey) -> str | None:
    """None when ``answer['receipt']`` is the signature of this key over the answer; else why not."""
    receipt = answer.get("receipt")
    if not isinstance(receipt, Mapping):
        return "the answer carries no receipt"
    if receipt.get("alg") != ALG:
        return f"unknown alg {receipt.get('alg')!r}"
    if receipt.get("key_id") != key_id_of(public):
        return f"signed with key {receipt.get('key_id')}, not this server's key {key_id_of(public)}"
    try:
        signature = base64.b64decode(str(receipt.get("signature")), validate=True)
        message = receipt_message(
            answer["batch_id"], answer["results"], str(receipt["signed_at"]), str(receipt["key_id"])
        )
        public.verify(signature, message)
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return "the signature does not match the batch_id and results"
    return None


def load_receipt_key(key_file: str | None, instance_path: str) -> ReceiptKey:
    """The configured key (``RECEIPT_KEY_FILE``), or the instance folder's, made once."""
    if key_file:
        try:
            return ReceiptKey(_read_private(Path(key_file).read_bytes()))
        except (OSError, ValueError, TypeError) as exc:
            raise ReceiptKeyError(
                f"RECEIPT_KEY_FILE {key_file}: not a readable Ed25519 PEM key ({exc})"
            ) from exc
    path = Path(instance_path) / KEY_FILE_NAME
    if not path.exists():
        _create_once(path)
    return ReceiptKey(_read_private(path.read_bytes()))


def _read_private(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 key")
    return key


def _create_once(path: Path) -> None:
    """Write a new key; several workers starting at once keep the first one written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    try:
        os.link(tmp, path)
        log.info("generated the receipt key %s (set RECEIPT_KEY_FILE to share one across hosts)", path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
