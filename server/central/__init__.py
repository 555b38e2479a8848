"""ODK Central's REST API, the subset pyodk uses.

``views``: sessions, users, projects, forms; ``submissions``: submissions and attachments;
``datasets``: entity lists and their entities; ``lists``: each user's copy of the lists.
"""
