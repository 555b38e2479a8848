// A small promise wrapper over IndexedDB: the phone's copy of the commune and its outbox.
//   records  [entity, id] -> {entity, id, version, deleted, data}   as last pulled
//   outbox   change_id    -> a change with seq, state, batch_id, result, conflict
//   batches  batch_id     -> {batch_id, change_ids, created_at, attempts}  stored before sending
//   photos   id           -> {id, registration_id, blob, sha256, upload_url, offset, state}
//   meta     key          -> value (tokens, cursor, user, device id, sequence)
const NAME = "fieldsync";
const VERSION = 1;
export const STORES = ["records", "outbox", "batches", "photos", "meta"];
let opened = null;

function promise(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export function open() {
  if (opened) return opened;
  opened = new Promise((resolve, reject) => {
    const request = indexedDB.open(NAME, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("records", { keyPath: ["entity", "id"] });
      db.createObjectStore("outbox", { keyPath: "change_id" }).createIndex("seq", "seq");
      db.createObjectStore("batches", { keyPath: "batch_id" });
      db.createObjectStore("photos", { keyPath: "id" });
      db.createObjectStore("meta", { keyPath: "key" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

// Run fn(stores) in one transaction over `names`; resolves with fn's result once committed.
export async function transact(names, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(names, mode);
    const stores = Object.fromEntries(names.map((n) => [n, tx.objectStore(n)]));
    let result;
    Promise.resolve(fn(stores, promise)).then((value) => { result = value; }, (error) => { tx.abort(); reject(error); });
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

export const get = (store, key) => transact([store], "readonly", (s) => promise(s[store].get(key)));
export const all = (store) => transact([store], "readonly", (s) => promise(s[store].getAll()));
export const put = (store, value) => transact([store], "readwrite", (s) => promise(s[store].put(value)));
export const remove = (store, key) => transact([store], "readwrite", (s) => promise(s[store].delete(key)));

export async function getMeta(key, fallback = null) {
  const row = await get("meta", key);
  return row === undefined ? fallback : row.value;
}
export const setMeta = (key, value) => put("meta", { key, value });

export async function putMany(store, values) {
  return transact([store], "readwrite", (s) => { for (const v of values) s[store].put(v); });
}

// Everything of this user goes: records, outbox, photos, tokens.
export async function wipe() {
  return transact(STORES, "readwrite", (s) => { for (const name of STORES) s[name].clear(); });
}
