// The JSON API with the phone's login: Bearer access tokens, refreshed by the app itself.
import * as db from "./db.js";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || (status === 0 ? "offline" : "http_error");
    this.details = error.details || {};
    this.retryAfter = null;
  }
}

// Why a login is over, from the contract's 401 answer: "disabled" (the account was
// deactivated), "revoked" (an administrator revoked the logins), or "expired" (log in
// again; nothing is erased - a refresh answer lost on a bad line looks like this too).
export function endOfLogin(error) {
  const text = `${error.code} ${error.message}`.toLowerCase();
  if (error.details.disabled || /disabled|deactivated|inactive/.test(text)) return "disabled";
  if (/already used/.test(text)) return "expired";
  if (error.details.revoked || /revoked/.test(text)) return "revoked";
  return "expired";
}

export class LoginEnded extends Error {
  constructor(reason, error) {
    super(error ? error.message : reason);
    this.reason = reason;
    this.cause = error;
  }
}

async function send(path, { method = "GET", body, headers = {}, token, raw = false, signal } = {}) {
  const options = { method, headers: { ...headers }, signal, cache: "no-store" };
  if (token) options.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined && !raw) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  } else if (raw) {
    options.body = body;
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (exc) {
    throw new ApiError(0, { error: { code: "offline", message: String(exc) } });
  }
  if (response.ok) return response;
  let answer = null;
  try { answer = await response.json(); } catch { /* not JSON */ }
  const error = new ApiError(response.status, answer);
  const wait = Number(response.headers.get("Retry-After"));
  if (wait > 0) error.retryAfter = wait;
  throw error;
}

export async function logIn(username, password) {
  const response = await send("/api/v1/auth/token", { method: "POST", body: { username, password } });
  const pair = await response.json();
  await keep(pair);
  const me = await (await send("/api/v1/auth/me", { token: pair.access_token })).json();
  return me;
}

async function keep(pair) {
  await db.setMeta("tokens", {
    access: pair.access_token,
    refresh: pair.refresh_token,
    expires: Date.now() + (pair.expires_in - 30) * 1000,
  });
}

let refreshing = null;

async function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    const tokens = await db.getMeta("tokens");
    if (!tokens) throw new LoginEnded("expired");
    try {
      const response = await send("/api/v1/auth/refresh", { method: "POST", body: { refresh_token: tokens.refresh } });
      const pair = await response.json();
      await keep(pair);
      return pair.access_token;
    } catch (error) {
      if (error.status === 401) throw new LoginEnded(endOfLogin(error), error);
      throw error;
    }
  })();
  try { return await refreshing; } finally { refreshing = null; }
}

// A request with the phone's login; a stale access token is refreshed first (or after a 401).
export async function call(path, options = {}) {
  const tokens = await db.getMeta("tokens");
  if (!tokens) throw new LoginEnded("expired");
  let token = tokens.access;
  if (Date.now() >= tokens.expires) token = await refresh();
  try {
    return await send(path, { ...options, token });
  } catch (error) {
    if (error.status !== 401) throw error;
    const reason = endOfLogin(error);
    if (reason !== "expired") throw new LoginEnded(reason, error);
    return send(path, { ...options, token: await refresh() });
  }
}

// The last chance of a phone whose login ended: the access token it still holds, no refresh.
export async function callWithoutRefresh(path, options = {}) {
  const tokens = await db.getMeta("tokens");
  return send(path, { ...options, token: tokens && tokens.access });
}

export const json = async (path, options) => (await call(path, options)).json();
