"""OpenRosa routes for ODK Collect and Enketo (``views``)."""
