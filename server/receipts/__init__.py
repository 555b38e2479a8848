"""Signed push receipts: the server's Ed25519 signature over each batch's answer."""
