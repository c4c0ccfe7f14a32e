// Building the page: every value shown goes in as text (textContent), never as markup.

/** An element: h("a", {href: "#/runs", class: "x", onclick: fn}, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "value" || key === "checked" || key === "disabled" || key === "selected") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${n} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (hours) return `${hours} h ${minutes} min`;
  if (minutes) return `${minutes} min ${rest} s`;
  return `${rest} s`;
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** Seconds a run or task has taken: finished - started, or now - started while it goes on. */
export function elapsed(started, finished) {
  if (!started) return null;
  const end = finished ? new Date(finished).getTime() : Date.now();
  return (end - new Date(started).getTime()) / 1000;
}

export function money(amount, currency = "USD") {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, maximumFractionDigits: 4 }).format(amount);
  } catch {
    return `${amount} ${currency}`;
  }
}

// What each state means, in words (the grid's and the chips' text equivalent of their colours).
export const STATES = {
  QUEUED: { label: "queued", mark: "…" },
  INITIALIZING: { label: "starting", mark: "○" },
  RUNNING: { label: "running", mark: "▶" },
  CANCELING: { label: "canceling", mark: "⊘" },
  COMPLETE: { label: "complete", mark: "✓" },
  CACHED: { label: "reused from cache", mark: "✓" },
  EXECUTOR_ERROR: { label: "failed", mark: "✗" },
  SYSTEM_ERROR: { label: "could not run", mark: "!" },
  CANCELED: { label: "canceled", mark: "⊘" },
  SKIPPED: { label: "skipped", mark: "–" },
};
export const TERMINAL = new Set(["COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED"]);

export function chip(state) {
  const known = STATES[state] || { label: state.toLowerCase(), mark: "?" };
  return h("span", { class: `chip s-${state}` }, h("span", { "aria-hidden": "true" }, known.mark + " "), known.label);
}

/** Save a blob under a file name (downloads that carry the bearer token go through fetch). */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Replace an element's children (null, false and nested arrays are skipped). */
export function fill(el, ...children) {
  return append(clear(el), children);
}
