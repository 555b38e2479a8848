"""ODK Central's REST API, the subset pyodk uses.

``views``: sessions, users, projects, forms; ``submissions``: submissions and attachments.
"""
