"""``/api/v1/device-tokens``: keys for setting ODK Collect up by QR code (``views``)."""
