"""``GET /api/v1/activity``: what each collaborator has done."""
