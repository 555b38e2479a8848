// The collaborator's app: screens drawn from what IndexedDB holds, saved to the outbox, synced.
import * as api from "./api.js";
import * as db from "./db.js";
import { day, lang, money, moment, setLang, t } from "./i18n.js";
import { shrink } from "./photo.js";
import { CATEGORIES, KINDS, NEEDS, checkDay, checkHousehold, checkRegistration, today } from "./rules.js";
import * as sync from "./sync.js";
import * as upload from "./upload.js";

const main = document.getElementById("main");
const tabs = document.getElementById("tabs");
const notice = document.getElementById("notice");
const progressBar = document.getElementById("progress");
const state = { me: null, records: new Map(), outbox: [], photos: [], view: "households", query: "", syncing: null };
window.fieldsync = state; // for people debugging on a phone, and for the tests

// -- DOM -------------------------------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function say(text, kind = "info") {
  notice.hidden = !text;
  notice.dataset.kind = kind;
  notice.textContent = text || "";
}

// -- what the phone holds ----------------------------------------------------------------------
const key = (entity, id) => `${entity}/${id}`;

async function load() {
  state.records = new Map((await db.all("records")).map((r) => [key(r.entity, r.id), r]));
  state.outbox = await sync.outbox();
  state.photos = await db.all("photos");
}

// A record as the collaborator sees it: the server's copy, or the phone's newer unsent edit.
function view(entity, id) {
  const held = state.records.get(key(entity, id));
  const latest = state.outbox.filter((c) => c.entity === entity && c.id === id).at(-1);
  const fresh = latest && (latest.state !== "done" || (["applied", "merged", "duplicate"].includes(latest.result?.status) && (!held || latest.result.version > held.version)));
  if (fresh) return { entity, id, version: held ? held.version : null, deleted: latest.op === "delete", data: latest.data, local: latest };
  return held || null;
}

function list(entity) {
  const ids = new Set();
  for (const r of state.records.values()) if (r.entity === entity) ids.add(r.id);
  for (const c of state.outbox) if (c.entity === entity) ids.add(c.id);
  return [...ids].map((id) => view(entity, id)).filter((r) => r && !r.deleted);
}

function registrationOf(householdId) {
  return list("registrations").filter((r) => r.data.household_id === householdId).sort((a, b) => (b.data.year || 0) - (a.data.year || 0))[0] || null;
}

function householdName(id) {
  const hh = view("households", id);
  return hh ? hh.data.head_name : "";
}

function changeStatus(change) {
  if (change.state !== "done") return change.state; // pending | sending
  return change.result.status;
}

// -- screens -----------------------------------------------------------------------------------
function drawTabs() {
  tabs.hidden = !state.me;
  if (!state.me) return;
  const waiting = state.outbox.filter((c) => c.state !== "done").length;
  const returned = list("registrations").filter((r) => r.data.status === "returned").length;
  const items = [
    ["households", t("tab.households"), 0],
    ["returned", t("tab.returned"), returned],
    ["payouts", t("tab.payouts"), 0],
    ["support", t("tab.support"), 0],
    ["sync", t("tab.sync"), waiting],
  ];
  tabs.replaceChildren(
    ...items.map(([name, label, count]) =>
      h("button", { type: "button", "data-tab": name, "aria-current": state.view === name ? "page" : null, onclick: () => show(name) }, label, count ? h("span", { class: "count" }, count) : null),
    ),
  );
}

function drawHeader() {
  const online = navigator.onLine;
  const net = document.getElementById("net");
  net.dataset.online = String(online);
  net.textContent = online ? t("net.online") : t("net.offline");
  document.getElementById("lang").textContent = t("app.lang");
}

function show(name, ...args) {
  state.view = name;
  state.args = args;
  draw();
}

function draw() {
  drawHeader();
  drawTabs();
  if (!state.me) return drawLogin();
  const screens = { households: drawHouseholds, form: drawForm, returned: drawReturned, payouts: drawPayouts, support: drawSupport, sync: drawSync };
  main.replaceChildren(...[].concat(screens[state.view](...(state.args || []))).filter(Boolean));
  window.scrollTo(0, 0);
}

function syncButton() {
  const waiting = state.outbox.filter((c) => c.state !== "done").length;
  return h("button", { type: "button", class: "primary wide", "data-action": "sync", onclick: () => runSync(true), disabled: !!state.syncing }, `${t("sync.button")}${waiting ? ` (${waiting})` : ""}`);
}

function drawLogin() {
  const wiped = JSON.parse(localStorage.getItem("fieldsync-wiped") || "null");
  const error = h("p", { class: "error", id: "login-error" });
  const form = h(
    "form",
    {
      id: "login",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        try {
          await logIn(String(data.get("username")), String(data.get("password")));
        } catch (exc) {
          error.textContent = exc.status === 0 ? t("login.offline") : exc.status === 401 ? t("login.failed") : exc.message;
        }
      },
    },
    h("h1", {}, t("login.title")),
    wiped ? h("p", { class: "notice", "data-kind": "wiped", id: "wiped" }, t(`wiped.${wiped.reason}`), " ", wiped.unsent ? t("wiped.unsent", { n: wiped.unsent }) : t("wiped.sent")) : null,
    state.loginAgain ? h("p", { class: "notice" }, t("login.again")) : null,
    h("label", { for: "username" }, t("login.username")),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true, autocapitalize: "none" }),
    h("label", { for: "password" }, t("login.password")),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    error,
    h("button", { type: "submit", class: "primary wide", "data-action": "login" }, t("login.submit")),
  );
  main.replaceChildren(form);
}

async function logIn(username, password) {
  const previous = await db.getMeta("me");
  const me = await api.logIn(username, password);
  if (previous && previous.username !== me.username) {
    const tokens = await db.getMeta("tokens");
    await db.wipe(); // another person's phone now: nothing of theirs stays
    await db.setMeta("tokens", tokens);
  }
  await db.setMeta("me", me);
  localStorage.removeItem("fieldsync-wiped");
  state.me = me;
  state.loginAgain = false;
  state.view = "households";
  await load();
  draw();
  runSync(true);
}

function drawHouseholds() {
  const query = state.query.trim().toLowerCase();
  const households = list("households")
    .filter((hh) => !query || [hh.data.head_name, hh.data.code, hh.data.village].some((v) => String(v || "").toLowerCase().includes(query)))
    .sort((a, b) => a.data.head_name.localeCompare(b.data.head_name, "vi"));
  const search = h("input", {
    type: "search",
    name: "q",
    class: "search",
    placeholder: t("households.search"),
    value: state.query,
    oninput: (event) => {
      state.query = event.target.value;
      const at = event.target.selectionStart;
      draw();
      const again = main.querySelector("input[name=q]");
      again.focus();
      again.setSelectionRange(at, at);
    },
  });
  return [
    h("h1", {}, t("households.title")),
    syncButton(),
    h("button", { type: "button", class: "wide", "data-action": "new-household", onclick: () => show("form", null) }, t("households.new")),
    h("label", { for: "q", hidden: true }, t("households.search")),
    search,
    households.length
      ? h("ul", { class: "list", id: "households" }, households.map(householdItem))
      : h("p", {}, t("households.none")),
  ];
}

function householdItem(hh) {
  const reg = registrationOf(hh.id);
  const status = reg ? reg.data.status || "submitted" : "none";
  const pending = [hh, reg].some((r) => r && r.local && r.local.state !== "done");
  return h(
    "li",
    { "data-id": hh.id, "data-status": status, "data-sync": pending ? "pending" : "sent", "data-entity": "households" },
    h("div", { class: "name" }, hh.data.head_name),
    h("div", { class: "meta" }, `${hh.data.code} · ${hh.data.village} · ${hh.data.members} ${t("field.members").toLowerCase()}`),
    h("span", { class: "badge" }, t(`reg.${status}`)),
    pending ? h("span", { class: "badge", "data-status": "pending" }, " ", t("status.pending")) : null,
    reg && reg.data.status === "returned" && reg.data.decision_note ? h("div", { class: "note" }, reg.data.decision_note) : null,
    h("div", { class: "actions" }, h("button", { type: "button", "data-action": "edit", onclick: () => show("form", hh.id) }, t("edit"))),
  );
}

function field(name, label, input, errors) {
  return [h("label", { for: input.id }, label), input, errors[name] ? h("p", { class: "error", "data-error": name }, t(...errors[name])) : null];
}

function drawForm(householdId, errors = {}, draft = null) {
  const hh = householdId ? view("households", householdId) : null;
  const reg = householdId ? registrationOf(householdId) : null;
  const h0 = draft ? draft.household : hh ? hh.data : {};
  const r0 = draft ? draft.registration : reg ? reg.data : { year: Number(today().slice(0, 4)), kind: "exit_poverty", needs: [], commitment: false, signed_on: today() };
  const regErrors = errors.registration || {};
  const hhErrors = errors.household || {};
  const locked = reg && ["approved", "rejected"].includes(reg.data.status);
  const input = (entity, name, value, attrs = {}) => h("input", { id: `${entity}-${name}`, name, value: value ?? "", ...attrs });
  const select = (entity, name, values, current, label) =>
    h("select", { id: `${entity}-${name}`, name }, h("option", { value: "" }, "—"), values.map((v) => h("option", { value: v, selected: v === current }, t(`${label}.${v}`))));
  const householdSet = h(
    "fieldset",
    { "data-entity": "households" },
    h("legend", {}, t("household.legend")),
    field("code", t("field.code"), input("hh", "code", h0.code, { required: true, maxlength: 50 }), hhErrors),
    field("head_name", t("field.head_name"), input("hh", "head_name", h0.head_name, { required: true, maxlength: 200 }), hhErrors),
    field("village", t("field.village"), input("hh", "village", h0.village, { required: true, maxlength: 200 }), hhErrors),
    field("members", t("field.members"), input("hh", "members", h0.members, { type: "number", inputmode: "numeric", min: 1, max: 100, required: true }), hhErrors),
    field("category", t("field.category"), select("hh", "category", CATEGORIES, h0.category, "category"), hhErrors),
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "ethnic_minority", checked: h0.ethnic_minority === true }), t("field.ethnic_minority")),
    field("phone", t("field.phone"), input("hh", "phone", h0.phone, { type: "tel", maxlength: 15 }), hhErrors),
  );
  const photo = state.photos.filter((p) => reg && p.registration_id === reg.id).at(-1);
  const preview = h("div", { class: "photo", id: "photo-preview" }, photo ? h("img", { src: URL.createObjectURL(photo.blob), alt: t("field.signed_form_photo") }) : reg && reg.data.signed_form_photo ? h("p", {}, t("photo.kept")) : null);
  const photoInput = h("input", {
    id: "reg-signed_form_photo",
    type: "file",
    name: "signed_form_photo",
    accept: "image/*",
    capture: "environment",
    onchange: async (event) => {
      const file = event.target.files[0];
      if (!file) return;
      preview.replaceChildren(h("p", {}, t("photo.resizing")));
      const small = await shrink(file);
      state.pendingPhoto = small;
      preview.replaceChildren(h("img", { src: URL.createObjectURL(small), alt: "" }), h("p", { "data-photo-bytes": small.size }, t("photo.ready", { kb: Math.round(small.size / 1024) })));
    },
  });
  const registrationSet = h(
    "fieldset",
    { "data-entity": "registrations", disabled: locked },
    h("legend", {}, t("registration.legend")),
    reg ? h("p", { "data-status": reg.data.status }, h("span", { class: "badge" }, t(`reg.${reg.data.status || "submitted"}`))) : null,
    reg && reg.data.decision_note ? h("div", { class: "note", id: "decision-note" }, `${t("field.decision_note")}: ${reg.data.decision_note}`) : null,
    field("year", t("field.year"), input("reg", "year", r0.year, { type: "number", inputmode: "numeric", min: 2000, max: 2100 }), regErrors),
    field("kind", t("field.kind"), select("reg", "kind", KINDS, r0.kind, "kind"), regErrors),
    field("members", t("field.members"), input("reg", "members", r0.members, { type: "number", inputmode: "numeric", min: 1, max: 100 }), regErrors),
    h("label", {}, t("field.needs")),
    NEEDS.map((need) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "needs", value: need, checked: (r0.needs || []).includes(need) }), t(`need.${need}`))),
    regErrors.needs ? h("p", { class: "error", "data-error": "needs" }, t(...regErrors.needs)) : null,
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "commitment", checked: r0.commitment === true }), t("field.commitment")),
    regErrors.commitment ? h("p", { class: "error", "data-error": "commitment" }, t(...regErrors.commitment)) : null,
    field("signed_on", t("field.signed_on"), input("reg", "signed_on", r0.signed_on, { type: "date", max: today() }), regErrors),
    field("notes", t("field.notes"), h("textarea", { id: "reg-notes", name: "notes", maxlength: 2000 }, r0.notes || ""), regErrors),
    field("signed_form_photo", t("field.signed_form_photo"), photoInput, regErrors),
    preview,
  );
  const form = h(
    "form",
    { id: "household-form", novalidate: true, onsubmit: (event) => { event.preventDefault(); saveForm(householdId, hh, reg, householdSet, registrationSet, locked); } },
    h("h1", {}, householdId ? (reg && reg.data.status === "returned" ? t("fix") : t("household.title.edit")) : t("household.title.new")),
    Object.keys(hhErrors).length || Object.keys(regErrors).length ? h("p", { class: "error", id: "form-errors" }, t("check.fix")) : null,
    householdSet,
    registrationSet,
    h("button", { type: "submit", class: "primary wide", "data-action": "save" }, t("save")),
    h("button", { type: "button", class: "wide", "data-action": "cancel", onclick: () => show("households") }, t("cancel")),
  );
  if (!draft) state.pendingPhoto = null;
  return form;
}

function read(fieldset, names) {
  const out = {};
  for (const name of names) {
    const el = fieldset.querySelector(`[name="${name}"]`);
    if (!el) continue;
    if (el.type === "checkbox" && name !== "needs") out[name] = el.checked;
    else out[name] = el.value.trim() === "" ? null : el.value.trim();
  }
  return out;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function saveForm(householdId, hh, reg, householdSet, registrationSet, locked) {
  const typedHh = read(householdSet, ["code", "head_name", "village", "members", "category", "ethnic_minority", "phone"]);
  const household = { ...(hh ? hh.data : { commune_code: state.me.unit, latitude: null, longitude: null, notes: null }), ...typedHh };
  const typedReg = read(registrationSet, ["year", "kind", "members", "commitment", "signed_on", "notes"]);
  typedReg.needs = [...registrationSet.querySelectorAll("input[name=needs]:checked")].map((el) => el.value);
  const hhCheck = checkHousehold(household);
  const regCheck = locked ? { data: reg.data, errors: {} } : checkRegistration({ ...(reg ? reg.data : {}), ...typedReg }, hhCheck.data);
  if (Object.keys(hhCheck.errors).length || Object.keys(regCheck.errors).length) {
    const photo = state.pendingPhoto;
    main.replaceChildren(drawForm(householdId, { household: hhCheck.errors, registration: regCheck.errors }, { household, registration: { ...(reg ? reg.data : {}), ...typedReg } }));
    state.pendingPhoto = photo;
    main.querySelector("[aria-invalid], .error")?.scrollIntoView();
    return;
  }
  const hid = householdId || sync.uuid();
  if (!hh || !same(hh.data, hhCheck.data)) await sync.save("households", hid, hhCheck.data);
  const rid = reg ? reg.id : sync.uuid();
  if (!locked) {
    const data = { ...regCheck.data, household_id: hid };
    if (!reg || !same(reg.data, data)) await sync.save("registrations", rid, data);
  }
  if (state.pendingPhoto) {
    await db.put("photos", { id: sync.uuid(), registration_id: rid, blob: state.pendingPhoto, name: "signed-form.jpg", state: "pending", upload_url: null, offset: 0, saved_at: new Date().toISOString() });
    state.pendingPhoto = null;
  }
  await load();
  say(t("saved"), "ok");
  show("households");
  if (navigator.onLine) runSync(false);
}

function drawReturned() {
  const returned = list("registrations").filter((r) => r.data.status === "returned");
  return [
    h("h1", {}, t("returned.title")),
    returned.length
      ? h("ul", { class: "list", id: "returned" }, returned.map((reg) =>
          h("li", { "data-id": reg.id, "data-status": reg.data.status, "data-entity": "registrations" },
            h("div", { class: "name" }, householdName(reg.data.household_id)),
            h("div", { class: "note" }, `${t("field.decision_note")}: ${reg.data.decision_note || ""}`),
            h("div", { class: "actions" }, h("button", { type: "button", "data-action": "fix", onclick: () => show("form", reg.data.household_id) }, t("fix"))))))
      : h("p", {}, t("returned.none")),
  ];
}

function drawPayouts() {
  const payouts = list("payouts").filter((p) => ["disbursed", "confirmed"].includes(p.data.status)).sort((a, b) => (a.data.status === "confirmed") - (b.data.status === "confirmed"));
  return [
    h("h1", {}, t("payouts.title")),
    payouts.length
      ? h("ul", { class: "list", id: "payouts" }, payouts.map((p) =>
          h("li", { "data-id": p.id, "data-status": p.data.status, "data-entity": "payouts" },
            h("div", { class: "name" }, householdName(p.data.household_id)),
            h("div", { class: "amount", "data-amount": p.data.amount_vnd }, money(p.data.amount_vnd)),
            h("div", { class: "meta" }, `${t(`payout.${p.data.kind}`)} · ${p.data.recognized_year}`),
            h("span", { class: "badge" }, t(`payout.${p.data.status}`), p.data.confirmed_on ? ` ${day(p.data.confirmed_on)}` : ""),
            p.data.status === "disbursed"
              ? h("div", { class: "actions" }, h("button", { type: "button", class: "primary", "data-action": "confirm-payout", onclick: () => confirmPayout(p) }, t("payouts.confirm")))
              : null)))
      : h("p", {}, t("payouts.none")),
  ];
}

async function confirmPayout(p) {
  await sync.save("payouts", p.id, { ...p.data, status: "confirmed", confirmed_on: today() });
  await load();
  say(t("saved"), "ok");
  draw();
  if (navigator.onLine) runSync(false);
}

function drawSupport() {
  const items = list("support_items").filter((s) => ["planned", "delivered"].includes(s.data.status));
  return [
    h("h1", {}, t("support.title")),
    items.length
      ? h("ul", { class: "list", id: "support" }, items.map((s) =>
          h("li", { "data-id": s.id, "data-status": s.data.status, "data-entity": "support_items" },
            h("div", { class: "name" }, householdName(s.data.household_id)),
            h("div", { class: "meta" }, `${t(`need.${s.data.kind}`)}${s.data.description ? ` · ${s.data.description}` : ""}${s.data.due_date ? ` · ${t("field.due_date")} ${day(s.data.due_date)}` : ""}`),
            h("span", { class: "badge" }, t(`support.${s.data.status}`)),
            s.data.status === "planned"
              ? h("div", { class: "actions" }, h("button", { type: "button", class: "primary", "data-action": "deliver", onclick: () => deliver(s) }, t("support.deliver")))
              : null)))
      : h("p", {}, t("support.none")),
  ];
}

async function deliver(s) {
  if (checkDay(today())) return;
  await sync.save("support_items", s.id, { ...s.data, status: "delivered", delivered_on: today() });
  await load();
  say(t("saved"), "ok");
  draw();
  if (navigator.onLine) runSync(false);
}

function fieldLabel(name) {
  const label = t(`field.${name}`);
  return label === `field.${name}` ? name : label;
}

function shown(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? t("yes") : t("no");
  if (Array.isArray(value)) return value.map((v) => t(`need.${v}`)).join(", ");
  return String(value);
}

function drawSync() {
  const changes = [...state.outbox].reverse();
  const last = state.lastSync;
  return [
    h("h1", {}, t("sync.title")),
    h("p", { id: "last-sync" }, last ? t("sync.last", { when: moment(last) }) : t("sync.never")),
    syncButton(),
    state.photos.length
      ? h("ul", { class: "list", id: "photos" }, state.photos.map((p) =>
          h("li", { "data-id": p.id, "data-status": p.state, "data-entity": "photos" },
            h("div", { class: "name" }, t("field.signed_form_photo"), " · ", householdName(view("registrations", p.registration_id)?.data.household_id)),
            h("span", { class: "badge" }, p.state === "done" ? t("photo.done") : p.upload_url ? t("photo.uploading", { pct: Math.floor((100 * p.offset) / p.blob.size) }) : t("photo.pending")))))
      : null,
    changes.length ? h("ul", { class: "list", id: "changes" }, changes.map(changeItem)) : h("p", {}, t("sync.none")),
  ];
}

function changeItem(change) {
  const status = changeStatus(change);
  const hid = change.entity === "households" ? change.id : change.data.household_id;
  const detail = [];
  if (status === "conflict" && change.conflict) {
    for (const [name, values] of Object.entries(change.conflict.fields)) {
      detail.push(h("dl", { class: "conflict", "data-field": name },
        h("dt", {}, t("conflict.field", { field: fieldLabel(name) })),
        h("dd", { "data-value": "server" }, t("conflict.kept", { value: shown(values.server) })),
        h("dd", { "data-value": "device" }, t("conflict.mine", { value: shown(values.device) }))));
    }
  }
  if (status === "rejected") {
    const errors = change.result.errors || {};
    const reason = [errors.message, ...Object.entries(errors.details || errors.fields || {}).map(([k, v]) => `${fieldLabel(k)}: ${[].concat(v).join(" ")}`)].filter(Boolean).join(" · ");
    detail.push(h("p", { class: "error" }, t("rejected.reason", { reason: reason || errors.code || "" })));
  }
  return h("li", { "data-id": change.change_id, "data-status": status, "data-record": change.id, "data-entity": change.entity },
    h("div", { class: "name" }, t(`change.${change.entity}`, { name: householdName(hid) })),
    h("div", { class: "meta" }, moment(change.saved_at)),
    h("span", { class: "badge" }, t(`status.${status}`)),
    detail);
}

// -- sync ----------------------------------------------------------------------------------------
function progress(step) {
  const bar = progressBar.querySelector("progress");
  const label = progressBar.querySelector("span");
  progressBar.hidden = false;
  if (step.phase === "push") {
    bar.max = Math.max(1, step.total);
    bar.value = step.done;
    label.textContent = t("sync.sending", { done: step.done, total: step.total });
  } else if (step.phase === "pull") {
    bar.removeAttribute("value");
    label.textContent = t("sync.pulling", { n: step.count });
  } else if (step.phase === "upload") {
    bar.max = 1;
    bar.value = step.fraction;
    label.textContent = t("sync.uploading", { pct: Math.floor(step.fraction * 100) });
  } else if (step.phase === "retry") {
    label.textContent = t("sync.retry", { s: step.wait });
  }
}

let retryTimer = null;

async function runSync(byHand) {
  if (!state.me) return;
  if (state.syncing) return state.syncing;
  clearTimeout(retryTimer);
  state.syncing = (async () => {
    document.body.dataset.sync = "running";
    try {
      await sync.push(progress);
      await sync.pull(progress);
      await sync.fetchConflicts();
      await load();
      const known = (id) => state.records.has(key("registrations", id));
      await upload.sendAll(known, (fraction) => progress({ phase: "upload", fraction }));
      state.lastSync = new Date().toISOString();
      await db.setMeta("last_sync", state.lastSync);
      say(t("sync.done"), "ok");
      document.body.dataset.sync = "done";
    } catch (error) {
      if (error instanceof api.LoginEnded) return endLogin(error.reason);
      document.body.dataset.sync = "failed";
      if (error instanceof sync.Offline) {
        if (byHand) say(t("sync.offline"));
        retryTimer = setTimeout(() => navigator.onLine && runSync(false), 20000);
      } else {
        say(t("sync.failed", { reason: error.message }), "error");
      }
    } finally {
      progressBar.hidden = true;
      state.syncing = null;
      await load();
      if (state.me) draw();
    }
  })();
  return state.syncing;
}

// The login is over. Expired: ask for the password again, keep everything. Deactivated or
// revoked: a lost or handed-over phone - send what the server still accepts, then erase.
async function endLogin(reason) {
  if (reason === "expired") {
    state.me = null;
    state.loginAgain = true;
    draw();
    return;
  }
  try {
    await sync.push(() => {}, { lastChance: true });
  } catch { /* not accepted any more: nothing more to do */ }
  const unsent = (await sync.outbox()).filter((c) => c.state !== "done").length;
  await db.wipe();
  localStorage.setItem("fieldsync-wiped", JSON.stringify({ reason, unsent, at: new Date().toISOString() }));
  state.me = null;
  state.records = new Map();
  state.outbox = [];
  state.photos = [];
  document.body.dataset.sync = "wiped";
  draw();
}

// -- start ---------------------------------------------------------------------------------------
document.getElementById("lang").addEventListener("click", () => {
  setLang(lang() === "vi" ? "en" : "vi");
  draw();
});
window.addEventListener("online", () => { drawHeader(); runSync(false); });
window.addEventListener("offline", () => drawHeader());

async function start() {
  setLang(lang());
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
  }
  state.me = await db.getMeta("me");
  const tokens = await db.getMeta("tokens");
  if (!tokens) state.me = null;
  state.lastSync = await db.getMeta("last_sync");
  await load();
  draw();
  document.body.dataset.ready = "true";
  if (state.me && navigator.onLine) runSync(false);
}

start();
