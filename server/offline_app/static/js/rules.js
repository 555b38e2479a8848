// The contract's rules for what a collaborator writes, checked on the phone before saving.
// They match the server's (schemas/records.py) or are stricter - never looser: a form the
// phone accepts is one the server accepts.
export const NEEDS = ["livestock", "seedlings", "vocational_training", "preferential_loan", "job_placement", "housing", "other"];
export const CATEGORIES = ["poor", "near_poor"];
export const KINDS = ["exit_poverty", "exit_near_poverty"];

function text(errors, data, name, { required = true, max = 200 } = {}) {
  const value = data[name];
  if (value === null || value === undefined || String(value).trim() === "") {
    if (required) errors[name] = ["check.required"];
    data[name] = required ? value : null;
    return;
  }
  if (String(value).length > max) errors[name] = ["check.length", { max }];
}

function integer(errors, data, name, min, max) {
  const raw = data[name];
  if (raw === null || raw === undefined || raw === "") { errors[name] = ["check.required"]; return; }
  const value = typeof raw === "number" ? raw : Number(String(raw).trim());
  if (!Number.isInteger(value) || !/^\d+$/.test(String(raw).trim())) { errors[name] = ["check.integer"]; return; }
  if (value < min || value > max) { errors[name] = ["check.range", { min, max }]; return; }
  data[name] = value;
}

function choice(errors, data, name, values) {
  if (!values.includes(data[name])) errors[name] = ["check.choice"];
}

export function today() {
  const now = new Date();
  const local = new Date(now.getTime() - now.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 10);
}

function date(errors, data, name, { notFuture = false } = {}) {
  const value = data[name];
  if (!value) { errors[name] = ["check.required"]; return; }
  const parsed = new Date(`${value}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value) {
    errors[name] = ["check.date"];
    return;
  }
  if (notFuture && value > today()) errors[name] = ["check.future"];
}

// A household's data (the fields a collaborator types); returns {data, errors}.
export function checkHousehold(input) {
  const data = { ...input };
  const errors = {};
  text(errors, data, "code", { max: 50 });
  text(errors, data, "village");
  text(errors, data, "head_name");
  integer(errors, data, "members", 1, 100);
  choice(errors, data, "category", CATEGORIES);
  if (typeof data.ethnic_minority !== "boolean") errors.ethnic_minority = ["check.choice"];
  text(errors, data, "phone", { required: false, max: 30 });
  if (data.phone && !/^[0-9+ .-]{8,15}$/.test(data.phone)) errors.phone = ["check.integer"]; // stricter
  text(errors, data, "notes", { required: false, max: 2000 });
  return { data, errors };
}

// An exit-registration form; stricter than the server where the programme is: the household
// must commit, at least one need, the form signed on a real day not in the future, and not
// for more people than live in the household.
export function checkRegistration(input, household) {
  const data = { ...input };
  const errors = {};
  integer(errors, data, "year", 2000, 2100);
  choice(errors, data, "kind", KINDS);
  integer(errors, data, "members", 1, 100);
  if (!errors.members && household && Number.isInteger(household.members) && data.members > household.members) {
    errors.members = ["check.members"];
  }
  const needs = Array.isArray(data.needs) ? data.needs : [];
  if (needs.length === 0 || needs.some((n) => !NEEDS.includes(n)) || new Set(needs).size !== needs.length) {
    errors.needs = ["check.needs"];
  }
  if (data.commitment !== true) errors.commitment = ["check.commitment"];
  date(errors, data, "signed_on", { notFuture: true });
  text(errors, data, "notes", { required: false, max: 2000 });
  return { data, errors };
}

export function checkDay(value) {
  const errors = {};
  date(errors, { value }, "value", { notFuture: true });
  return errors.value || null;
}
