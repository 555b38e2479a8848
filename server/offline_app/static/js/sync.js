// The outbox and the sync protocol, done the way docs/protocol.md asks of a phone:
// - every saved change gets its change_id at once, and is kept until the server answers it;
// - a batch gets its batch_id and is stored before it is sent, so a lost answer is re-sent
//   as the very same batch (same batch_id, same change_ids) and answered from the server's copy;
// - 503 retry backs off and sends the same batch again;
// - pull by cursor, page by page while `more`, each record kept at its latest version.
import * as api from "./api.js";
import * as db from "./db.js";

export const BATCH_MAX = 200;
const BACKOFF = [1, 2, 4, 8, 16];

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class Offline extends Error {}

const sleep = (s) => new Promise((resolve) => setTimeout(resolve, s * 1000));

export async function deviceId() {
  let id = await db.getMeta("device_id");
  if (!id) {
    id = `app-${uuid().slice(0, 8)}`;
    await db.setMeta("device_id", id);
  }
  return id;
}

// Save one record's new data as a change in the outbox (one transaction).
// A change not yet put in a batch is updated in place (it keeps its change_id); otherwise a
// new change is made against the version this phone last saw.
export async function save(entity, id, data, op = "upsert") {
  return db.transact(["outbox", "records", "meta"], "readwrite", async (s, p) => {
    const mine = (await p(s.outbox.getAll())).filter((c) => c.entity === entity && c.id === id);
    const now = new Date().toISOString();
    const open = mine.find((c) => c.state === "pending");
    if (open) {
      open.data = data;
      open.op = op;
      open.client_time = now;
      s.outbox.put(open);
      return open;
    }
    const held = await p(s.records.get([entity, id]));
    const counter = (await p(s.meta.get("seq"))) || { key: "seq", value: 0 };
    counter.value += 1;
    s.meta.put(counter);
    const inFlight = mine.find((c) => c.state === "sending");
    const answered = mine
      .filter((c) => c.state === "done" && c.result && c.result.version && ["applied", "merged", "duplicate", "conflict"].includes(c.result.status))
      .sort((a, b) => b.seq - a.seq)[0];
    let base = held && !held.deleted ? held.version : held ? held.version : null;
    if (answered && (base === null || answered.result.version > base)) base = answered.result.version;
    const change = {
      change_id: uuid(),
      seq: counter.value,
      entity,
      id,
      op,
      base_version: base,
      base_after: inFlight ? inFlight.change_id : null,
      base_data: held ? held.data : null,
      data,
      client_time: now,
      state: "pending",
      batch_id: null,
      result: null,
      conflict: null,
      saved_at: now,
    };
    s.outbox.put(change);
    return change;
  });
}

export async function outbox() {
  return (await db.all("outbox")).sort((a, b) => a.seq - b.seq);
}

function wire(change) {
  return {
    change_id: change.change_id,
    entity: change.entity,
    id: change.id,
    op: change.op,
    base_version: change.base_version,
    data: change.op === "delete" ? {} : change.data,
    client_time: change.client_time,
  };
}

// Make the next batch from waiting changes and store it, with its changes marked as sent in
// it, in one transaction - before anything goes on the wire.
async function makeBatch() {
  return db.transact(["outbox", "batches"], "readwrite", async (s, p) => {
    const changes = (await p(s.outbox.getAll())).sort((a, b) => a.seq - b.seq);
    const byId = new Map(changes.map((c) => [c.change_id, c]));
    const chosen = [];
    for (const change of changes) {
      if (change.state !== "pending") continue;
      if (change.base_after) {
        const before = byId.get(change.base_after);
        if (before && before.state !== "done") continue; // its base is not known yet
        if (before && before.result && before.result.version) change.base_version = before.result.version;
        change.base_after = null;
      }
      if (chosen.some((c) => c.entity === change.entity && c.id === change.id)) continue;
      chosen.push(change);
      if (chosen.length >= BATCH_MAX) break;
    }
    if (chosen.length === 0) return null;
    const batch = { batch_id: uuid(), change_ids: chosen.map((c) => c.change_id), created_at: new Date().toISOString(), attempts: 0 };
    for (const change of chosen) {
      change.state = "sending";
      change.batch_id = batch.batch_id;
      s.outbox.put(change);
    }
    s.batches.put(batch);
    return batch;
  });
}

async function sendBatch(batch, report, { lastChance = false } = {}) {
  const changes = [];
  for (const changeId of batch.change_ids) changes.push(await db.get("outbox", changeId));
  const body = { device_id: await deviceId(), batch_id: batch.batch_id, changes: changes.map(wire) };
  for (let attempt = 0; ; attempt += 1) {
    batch.attempts += 1;
    await db.put("batches", batch);
    try {
      const options = { method: "POST", body };
      const response = lastChance ? await api.callWithoutRefresh("/api/v1/sync/push", options) : await api.call("/api/v1/sync/push", options);
      const answer = await response.json();
      await recordAnswer(batch, answer.results);
      return answer.results;
    } catch (error) {
      if (error instanceof api.LoginEnded) throw error;
      if (error.status === 0) throw new Offline(error.message);
      if (error.status === 503 && attempt < BACKOFF.length) {
        const wait = error.retryAfter || BACKOFF[attempt];
        report({ phase: "retry", wait });
        await sleep(wait);
        continue;
      }
      if (error.status === 503 || error.status === 401) throw error;
      // The server refused the batch as a whole (it is malformed): say so on every change
      // and drop the batch, instead of sending it for ever.
      const results = changes.map((c) => ({ change_id: c.change_id, status: "rejected", errors: { code: error.code, message: error.message } }));
      await recordAnswer(batch, results);
      return results;
    }
  }
}

async function recordAnswer(batch, results) {
  await db.transact(["outbox", "batches"], "readwrite", async (s, p) => {
    for (const result of results) {
      const change = await p(s.outbox.get(result.change_id));
      if (!change) continue;
      change.state = "done";
      change.result = result;
      change.answered_at = new Date().toISOString();
      s.outbox.put(change);
    }
    s.batches.delete(batch.batch_id);
  });
}

// Send every stored batch again (their answers were lost), then the waiting changes.
export async function push(report = () => {}, options = {}) {
  const waiting = (await outbox()).filter((c) => c.state !== "done").length;
  let done = 0;
  report({ phase: "push", done, total: waiting });
  const stored = (await db.all("batches")).sort((a, b) => a.created_at.localeCompare(b.created_at));
  for (const batch of stored) {
    await sendBatch(batch, report, options);
    done += batch.change_ids.length;
    report({ phase: "push", done, total: waiting });
  }
  for (;;) {
    const batch = await makeBatch();
    if (!batch) break;
    await sendBatch(batch, report, options);
    done += batch.change_ids.length;
    report({ phase: "push", done, total: waiting });
  }
}

export async function pull(report = () => {}) {
  let cursor = await db.getMeta("cursor");
  let count = 0;
  for (;;) {
    const query = new URLSearchParams({ limit: "500" });
    if (cursor) query.set("cursor", cursor);
    let page;
    try {
      page = await api.json(`/api/v1/sync/pull?${query}`);
    } catch (error) {
      if (error.status === 0) throw new Offline(error.message);
      throw error;
    }
    cursor = page.cursor;
    await db.transact(["records", "meta"], "readwrite", (s) => {
      for (const record of page.changes) s.records.put(record);
      s.meta.put({ key: "cursor", value: cursor });
    });
    count += page.changes.length;
    report({ phase: "pull", count });
    if (!page.more) return count;
  }
}

// A conflict's fields (their value, the one kept, mine) for each change the server said conflicts.
export async function fetchConflicts() {
  const waiting = (await outbox()).filter((c) => c.result && c.result.status === "conflict" && c.result.conflict_id && !c.conflict);
  const entities = [...new Set(waiting.map((c) => c.entity))];
  for (const entity of entities) {
    let list;
    try {
      list = await api.json(`/api/v1/conflicts?entity=${entity}`);
    } catch (error) {
      if (error.status === 0) throw new Offline(error.message);
      throw error;
    }
    const byId = new Map(list.items.map((item) => [item.id, item]));
    for (const change of waiting.filter((c) => c.entity === entity)) {
      const found = byId.get(change.result.conflict_id);
      if (!found) continue;
      change.conflict = { fields: found.fields, status: found.status };
      await db.put("outbox", change);
    }
  }
}
