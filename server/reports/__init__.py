"""The department's reports: SQL in ``server/store/reports.py``, arithmetic in ``figures``,
Vietnamese tables in ``tables``, HTTP in ``views``."""
