// The service's API, as the page uses it: bearer tokens, errors in words, retries with backoff.
import { bearer } from "./auth.js";

let base = "";
let onSignInNeeded = () => {};

export function configureApi(apiBase, signInNeeded) {
  base = (apiBase || "").replace(/\/$/, "");
  onSignInNeeded = signInNeeded;
}

export class ApiError extends Error {
  /** kind: "offline" (no answer), "signin" (401), "http" (any other refusal). */
  constructor(kind, message, { status = 0, fields = [] } = {}) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.fields = fields;
  }
}

const OFFLINE =
  "The service is not answering right now (it may be restarting, or the network is down). " +
  "The page keeps trying on its own; what you typed is kept.";

function wording(status, message) {
  if (status >= 500) {
    return (
      `The service had a problem on its side (error ${status}). Try again in a minute; ` +
      "if it keeps happening, tell whoever runs the service."
    );
  }
  const said = typeof message === "string" && message.trim() ? message.trim() : "";
  if (status === 404) return `${said || "Not found"}. It may belong to another user, or the link is out of date.`;
  if (status === 413) return said || "The file is too large for this service.";
  if (status === 422 || status === 400) return said ? `Please check the form: ${said}.` : "Please check the form.";
  return said || `The service refused the request (error ${status}).`;
}

/** Call the API: JSON in and out (``body``), a FormData (``form``), or the raw Response (``raw``). */
export async function api(path, { method = "GET", body, form, raw = false } = {}) {
  const headers = {};
  const token = bearer();
  if (token) headers.Authorization = token;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  } else if (form !== undefined) {
    payload = form;
  }
  let response;
  try {
    response = await fetch(base + path, { method, headers, body: payload, cache: "no-store" });
  } catch {
    throw new ApiError("offline", OFFLINE);
  }
  if (response.status === 401) {
    onSignInNeeded();
    throw new ApiError("signin", "Your sign-in has ended: sign in again. What you typed is kept.", { status: 401 });
  }
  if (!response.ok) {
    let message = "";
    let fields = [];
    try {
      const answer = await response.json();
      message = answer.message || answer.msg || "";
      fields = Array.isArray(answer.errors) ? answer.errors : [];
    } catch {
      // not JSON: a proxy's error page; the status says enough
    }
    if (response.status === 502 || response.status === 503 || response.status === 504) {
      throw new ApiError("offline", OFFLINE, { status: response.status });
    }
    throw new ApiError("http", wording(response.status, message), { status: response.status, fields });
  }
  if (raw) return response;
  try {
    return await response.json();
  } catch {
    throw new ApiError("offline", OFFLINE);
  }
}

// --- the status line: one message about the connection, shared by every poller --------------------

let statusOwner = null;

export function setStatus(text, owner = "page") {
  const el = document.getElementById("status");
  statusOwner = text ? owner : null;
  el.textContent = text || "";
  el.classList.toggle("shown", Boolean(text));
}

export function clearStatus(owner) {
  if (statusOwner === owner) setStatus("");
}

/**
 * Call ``step`` every ``every`` ms (or after the ms it returns) until it returns false or the returned
 * function is called. While the service
 * does not answer, wait twice as long each time (up to ``max``) and say so in the status line; a
 * hidden tab is not polled.
 */
export function poll(step, { every = 2000, max = 30000, immediate = false } = {}) {
  let stopped = false;
  let timer = null;
  let delay = every;
  const owner = `poll-${Math.random()}`;
  async function tick() {
    timer = null;
    if (stopped) return;
    if (document.hidden) {
      timer = setTimeout(tick, every);
      return;
    }
    let again = true;
    try {
      const answer = await step();
      again = answer !== false;
      delay = typeof answer === "number" ? answer : every; // a step may ask for its next delay
      clearStatus(owner);
    } catch (error) {
      if (error instanceof ApiError && error.kind === "offline") {
        delay = Math.min(delay * 2, max);
        setStatus(`${error.message} Next try in ${Math.round(delay / 1000)} s.`, owner);
      } else if (error instanceof ApiError && error.kind === "signin") {
        again = false;
      } else {
        delay = Math.min(delay * 2, max);
        setStatus(error.message || String(error), owner);
      }
    }
    if (again && !stopped) timer = setTimeout(tick, delay);
  }
  timer = setTimeout(tick, immediate ? 0 : every);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    clearStatus(owner);
  };
}
