// Your runs (administrators: everyone's), live: polled with backoff, filters and paging in the address.
import { api, poll } from "./api.js";
import { errorBox, identity, onLeave } from "./app.js";
import { TERMINAL, STATES, chip, clear, duration, elapsed, h, when, fill } from "./dom.js";

const PAGE = 20;
const RUN_STATES = ["QUEUED", "INITIALIZING", "RUNNING", "CANCELING", "COMPLETE", "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED"];

function progressCell(run, detail) {
  if (!detail) {
    return TERMINAL.has(run.state) ? `${run.tasks_total} task${run.tasks_total === 1 ? "" : "s"}` : "…";
  }
  const counts = detail.task_counts || {};
  const done = (counts.COMPLETE || 0) + (counts.CACHED || 0);
  const text = `${done} of ${detail.tasks_total} tasks done`;
  return h("span", { class: "progress" }, h("progress", { max: detail.tasks_total || 1, value: done, "aria-label": text }), " ", text);
}

export async function runsPage(main, query) {
  const filters = {
    product: query.get("product") || "",
    state: query.get("state") || "",
    name: query.get("name") || "",
  };
  const cursors = (query.get("at") || "").split(",").filter(Boolean); // the cursors of the pages before this one
  const admin = Boolean(identity() && identity().admin);

  let products = [];
  try {
    products = (await api("/api/v1/products")).products.map((p) => p.name);
  } catch {
    // the filter still works as free text below
  }

  function go(changes) {
    const next = { ...filters, ...changes };
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v && k !== "at") params.set(k, v);
    if (changes.at) params.set("at", changes.at);
    location.hash = `#/runs${params.toString() ? `?${params}` : ""}`;
  }

  const productSelect = h("select", { id: "filter-product", onchange: (e) => go({ product: e.target.value }) },
    h("option", { value: "" }, "all products"), products.map((p) => h("option", { value: p, selected: p === filters.product }, p)));
  const stateSelect = h("select", { id: "filter-state", onchange: (e) => go({ state: e.target.value }) },
    h("option", { value: "" }, "all states"), RUN_STATES.map((s) => h("option", { value: s, selected: s === filters.state }, STATES[s].label)));
  const nameInput = h("input", { type: "search", id: "filter-name", value: filters.name });
  const filterForm = h("form", { class: "filters", role: "search", "aria-label": "Filter runs", onsubmit: (e) => { e.preventDefault(); go({ name: nameInput.value.trim() }); } },
    h("label", { for: "filter-product" }, "Product"), productSelect,
    h("label", { for: "filter-state" }, "State"), stateSelect,
    h("label", { for: "filter-name" }, "Name"), nameInput,
    h("button", { type: "submit" }, "Filter"),
  );

  const body = h("tbody");
  const table = h("table", { class: "runs" },
    h("caption", {}, admin ? "Everyone's runs, newest first" : "Your runs, newest first"),
    h("thead", {}, h("tr", {}, ["Run", "Product", admin ? "User" : null, "State", "Why", "Progress", "Started", "Elapsed"].filter(Boolean).map((t) => h("th", { scope: "col" }, t)))),
    body,
  );
  const empty = h("p", { class: "empty", hidden: true }, "No runs here yet. ", h("a", { href: "#/catalog" }, "Launch one from the catalog"), ".");
  const pager = h("nav", { class: "pager", "aria-label": "Pages of runs" });
  const updated = h("p", { class: "help updated" });
  const problem = h("div");

  fill(main, h("h1", {}, "Runs"), filterForm, problem, table, empty, pager, updated);

  const details = new Map();
  let nextCursor = null;

  async function refresh() {
    const params = new URLSearchParams({ limit: String(PAGE) });
    for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v);
    if (cursors.length) params.set("cursor", cursors[cursors.length - 1]);
    const page = await api(`/api/v1/runs?${params}`);
    nextCursor = page.next_cursor;
    // progress of the runs still going (a few: quotas bound them), from their detail
    const active = page.runs.filter((r) => !TERMINAL.has(r.state)).slice(0, 10);
    await Promise.all(active.map(async (r) => {
      try {
        details.set(r.id, await api(`/api/v1/runs/${encodeURIComponent(r.id)}`));
      } catch {
        details.delete(r.id);
      }
    }));
    clear(body);
    for (const r of page.runs) {
      body.append(h("tr", { dataset: { run: r.id, state: r.state } },
        h("th", { scope: "row" }, h("a", { href: `#/runs/${encodeURIComponent(r.id)}` }, r.name)),
        h("td", { "data-label": "Product" }, r.product),
        admin ? h("td", { "data-label": "User" }, r.user) : null,
        h("td", { "data-label": "State" }, chip(r.state)),
        h("td", { class: "reason", "data-label": "Why" }, r.reason),
        h("td", { "data-label": "Progress" }, progressCell(r, TERMINAL.has(r.state) ? null : details.get(r.id))),
        h("td", { "data-label": "Started" }, when(r.started) || "not yet"),
        h("td", { "data-label": "Elapsed" }, duration(elapsed(r.started, r.finished)) || "–"),
      ));
    }
    empty.hidden = page.runs.length > 0;
    table.hidden = page.runs.length === 0;
    clear(pager);
    if (cursors.length) pager.append(h("a", { class: "button", href: "#", onclick: (e) => { e.preventDefault(); go({ at: cursors.slice(0, -1).join(",") }); } }, "‹ Newer runs"));
    if (nextCursor) pager.append(h("a", { class: "button", href: "#", onclick: (e) => { e.preventDefault(); go({ at: [...cursors, nextCursor].join(",") }); } }, "Older runs ›"));
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}; this list refreshes by itself.`;
    clear(problem);
    return active.length ? 3000 : 10000; // runs going on: every 3 s; else new ones show within 10 s
  }

  try {
    await refresh();
  } catch (error) {
    problem.append(errorBox(error, "Your runs could not be listed"));
  }
  onLeave(poll(refresh, { every: 3000 }));
}
