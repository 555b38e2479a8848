"""The store layer: every SQL statement of the server lives in these modules."""
