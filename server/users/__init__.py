"""``/api/v1/users``: the admin manages accounts."""
