// The only way the page talks to the server: the public API with the admin's bearer token.
import { forgetToken, storedToken } from "./session.js";

export const API = "/api/v1/admin/analytics";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};

export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

async function request(method, path, { params, body } = {}) {
  const url = new URL(API + path, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: `Bearer ${storedToken() || ""}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, "network_error", `Could not reach the server (${error.message})`);
  }
  const payload = await response.json().catch(() => null);
  if (response.ok) return { body: payload, freshAsOf: response.headers.get("X-Data-Fresh-As-Of") };
  const detail = payload?.error || {};
  const error = new ApiError(response.status, detail.code || "http_error", detail.message || `HTTP ${response.status}`);
  if (response.status === 401) {
    forgetToken();
    onUnauthorized(error);
  }
  throw error;
}

export const apiGet = async (path, params) => (await request("GET", path, { params })).body;
// The answer and the instant the server read its data (analytics routes say so in a header).
export const apiGetFresh = (path, params) => request("GET", path, { params });
export const apiPost = async (path, body) => (await request("POST", path, { body })).body;
export const apiDelete = async (path) => (await request("DELETE", path)).body;
