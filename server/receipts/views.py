"""``/api/v1/receipt-key``: the public key that checks every push receipt (no login needed:
a phone or an auditor checks the server's word with it)."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.receipts import ReceiptKeySchema

blp = Blueprint("receipts", __name__, url_prefix="/api/v1", description="Signed push receipts")


@blp.route("/receipt-key")
class ReceiptKeyView(MethodView):
    @blp.response(200, ReceiptKeySchema)
    def get(self):
        """The deployment's Ed25519 public key (raw, base64; and PEM) and its key_id."""
        return current_app.extensions["receipt_key"].public_document()
