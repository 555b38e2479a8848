"""ODK submissions on the server: taking them in, reviewing them, and showing them to ODK tools.

- ``intake`` receives an instance (from OpenRosa or the Central API), stores it, and runs its
  changes through the sync engine, as one transaction;
- ``review`` turns a Central ``reviewState`` into the commune official's decision;
- ``shapes`` renders submissions the way ODK Central does, for pyodk and OData clients.
"""
