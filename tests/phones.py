"""A simulated phone for HTTP tests: it keeps what it pulled, edits offline and syncs."""

from __future__ import annotations

import copy
import uuid
from typing import Any


class Phone:
    """One device of one user, speaking the sync contract through a Flask test client."""

    def __init__(self, client, headers: dict, device_id: str | None = None):
        self.client, self.headers = client, headers
        self.device_id = device_id or f"phone-{uuid.uuid4().hex[:6]}"
        self.cursor: str | None = None
        self.records: dict[tuple[str, str], dict[str, Any]] = {}  # (entity, id) -> pulled record
        self.outbox: list[dict] = []

    # -- offline work ------------------------------------------------------------------------
    def create(self, entity: str, data: dict, record_id: str | None = None) -> str:
        record_id = record_id or str(uuid.uuid4())
        self.outbox.append(change(entity, record_id, data, None))
        return record_id

    def edit(self, entity: str, record_id: str, **fields) -> None:
        """Edit the copy this phone last pulled (its version is the base)."""
        held = self.records[(entity, record_id)]
        data = {**copy.deepcopy(held["data"]), **fields}
        self.outbox.append(change(entity, record_id, data, held["version"]))

    def delete(self, entity: str, record_id: str) -> None:
        held = self.records[(entity, record_id)]
        self.outbox.append(change(entity, record_id, {}, held["version"], op="delete"))

    # -- sync --------------------------------------------------------------------------------
    def push(self, batch_id: str | None = None, expect: int = 200) -> dict:
        body = {
            "device_id": self.device_id,
            "batch_id": batch_id or str(uuid.uuid4()),
            "changes": self.outbox,
        }
        resp = self.client.post("/api/v1/sync/push", json=body, headers=self.headers)
        assert resp.status_code == expect, resp.get_json()
        if expect == 200:
            self.outbox = []
        self.last_batch = body
        return resp.get_json()

    def pull(self, limit: int = 500) -> list[dict]:
        got = []
        while True:
            url = f"/api/v1/sync/pull?limit={limit}" + (f"&cursor={self.cursor}" if self.cursor else "")
            resp = self.client.get(url, headers=self.headers)
            assert resp.status_code == 200, resp.get_json()
            page = resp.get_json()
            for record in page["changes"]:
                self.records[(record["entity"], record["id"])] = record
            got.extend(page["changes"])
            self.cursor = page["cursor"]
            if not page["more"]:
                return got

    def sync(self) -> dict:
        result = self.push()
        self.pull()
        return result

    def get(self, entity: str, record_id: str) -> dict:
        return self.records[(entity, record_id)]


def change(entity: str, record_id: str, data: dict, base_version: int | None, op: str = "upsert") -> dict:
    return {
        "change_id": str(uuid.uuid4()),
        "entity": entity,
        "id": record_id,
        "op": op,
        "base_version": base_version,
        "data": data,
        "client_time": "2020-05-02T08:15:00+07:00",
    }


def statuses(response: dict) -> list[str]:
    return [r["status"] for r in response["results"]]
