"""``GET /api/v1/delays``: the delay audit."""
