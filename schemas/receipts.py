"""Wire shapes of push receipts and of ``GET /api/v1/receipt-key``."""

from __future__ import annotations

from marshmallow import Schema, fields


class ReceiptSchema(Schema):
    alg = fields.String(required=True, metadata={"description": "Ed25519"})
    key_id = fields.String(required=True, metadata={"description": "16 hex digits of SHA-256(public key)"})
    signed_at = fields.String(required=True, metadata={"description": "ISO 8601, UTC"})
    signature = fields.String(required=True, metadata={"description": "base64 Ed25519 signature"})


class ReceiptKeySchema(Schema):
    alg = fields.String(required=True)
    key_id = fields.String(required=True)
    public_key = fields.String(required=True, metadata={"description": "the raw 32-byte key, base64"})
    public_key_pem = fields.String(required=True)
