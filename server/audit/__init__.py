"""``GET /api/v1/audit``: the append-only trail."""
