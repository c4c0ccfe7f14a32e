// One run: its state and reason, the task grid (steps x days), the critical path, logs that follow,
// outputs with downloads, the map inline, the compliance report as a table, cancel and relaunch.
import { ApiError, api, poll } from "./api.js";
import { errorBox, onLeave } from "./app.js";
import { STATES, TERMINAL, bytes, chip, clear, duration, elapsed, h, saveBlob, when, fill } from "./dom.js";

const LOG_KEEP = 200_000; // characters of a log kept on screen (the API pages the rest)
const WHOLE_RUN = "whole range";

function ms(iso) {
  return iso ? Date.parse(iso) : NaN;
}

/**
 * The chain of tasks that set the run's elapsed time: from the task that finished last, each step
 * back is the task that finished last before it started (what it was waiting for).
 */
export function criticalPath(tasks) {
  const timed = tasks.filter((t) => t.started && t.finished);
  if (!timed.length) return [];
  const latest = (list) => list.reduce((a, b) => (ms(a.finished) >= ms(b.finished) ? a : b));
  let current = latest(timed);
  const path = [current];
  for (;;) {
    const start = ms(current.started);
    const before = timed.filter((t) => !path.includes(t) && ms(t.finished) <= start + 1000);
    if (!before.length) break;
    current = latest(before);
    path.push(current);
  }
  return path.reverse();
}

function stateLabel(state) {
  return (STATES[state] || { label: state.toLowerCase() }).label;
}

function taskName(t) {
  return `${t.step}${t.day ? ` ${t.day}` : ""}`;
}

function grid(run, selected, onPick, critical) {
  const steps = [...new Set(run.tasks.map((t) => t.step))];
  const days = [...new Set(run.tasks.map((t) => t.day).filter(Boolean))].sort();
  if (run.tasks.some((t) => !t.day)) days.push(WHOLE_RUN);
  const at = new Map(run.tasks.map((t) => [`${t.step}|${t.day || WHOLE_RUN}`, t]));
  const onPath = new Set(critical.map((t) => t.id));
  const legend = h("ul", { class: "legend", "aria-label": "What the colours mean" },
    [...new Set(run.tasks.map((t) => t.state))].map((s) => h("li", {}, chip(s))),
    critical.length ? h("li", {}, h("span", { class: "chip critical-key" }, "◆ on the critical path")) : null,
  );
  const table = h("table", { class: "grid" },
    h("caption", {}, "Tasks by step and day: select one to see its log"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Step"), days.map((d) => h("th", { scope: "col" }, d)))),
    h("tbody", {}, steps.map((step) => h("tr", {},
      h("th", { scope: "row" }, step),
      days.map((day) => {
        const t = at.get(`${step}|${day}`);
        if (!t) return h("td", { class: "none" }, h("span", { class: "sr-only" }, "no task"));
        const tipId = `tip-${t.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
        const took = t.seconds !== null && t.seconds !== undefined ? `took ${duration(t.seconds)}` : "";
        const tip = [t.reason, took, t.cache_hit ? "reused from the cache" : "", onPath.has(t.id) ? "on the critical path" : ""].filter(Boolean).join(" · ");
        const mark = (STATES[t.state] || { mark: "?" }).mark;
        return h("td", {},
          h("button", {
            type: "button",
            class: `cell s-${t.state}${onPath.has(t.id) ? " critical" : ""}`,
            "aria-pressed": selected === t.id ? "true" : "false",
            "aria-describedby": tipId,
            dataset: { task: t.id, state: t.state },
            onclick: () => onPick(t),
          }, h("span", { "aria-hidden": "true" }, `${mark} `), stateLabel(t.state), onPath.has(t.id) ? h("span", { "aria-hidden": "true" }, " ◆") : null,
          h("span", { class: "sr-only" }, ` (${taskName(t)})`)),
          h("span", { class: "tip", id: tipId, role: "tooltip" }, tip || stateLabel(t.state)),
        );
      }),
    ))),
  );
  return [legend, h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Task grid" }, table)];
}

function parseReport(text) {
  const lines = text.split("\n");
  const headerAt = lines.findIndex((l) => /^day\s{2,}/.test(l));
  if (headerAt < 0) return null;
  const header = lines[headerAt].trim().split(/\s{2,}/);
  const rows = [];
  let i = headerAt + 1;
  for (; i < lines.length && /^\d{4}-\d{2}-\d{2}\s/.test(lines[i]); i += 1) {
    const m = lines[i].match(/^(\S+)\s+(\S+)\s+(\S+)\s+(\(\s*\d+,\s*\d+\)|-)\s+(\S+)\s*$/);
    rows.push(m ? m.slice(1).map((c) => c.replace(/\s+/g, " ")) : lines[i].trim().split(/\s{2,}/));
  }
  const before = lines.slice(0, headerAt).filter((l) => l.trim());
  const after = lines.slice(i).filter((l) => l.trim());
  return { header, rows, before, after };
}

function reportView(text) {
  const parsed = parseReport(text);
  if (!parsed) return h("pre", { class: "report", tabindex: "0" }, text);
  return h("div", { class: "report" },
    h("p", { class: "help" }, parsed.before[0] || ""),
    h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "MDA8 ozone by day" }, h("table", {},
      h("caption", {}, "MDA8 ozone by day (2015 ozone standard: 70 ppb)"),
      h("thead", {}, h("tr", {}, parsed.header.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, parsed.rows.map((r) => h("tr", {}, h("th", { scope: "row" }, r[0]), r.slice(1).map((c) => h("td", {}, c))))),
    )),
    h("ul", { class: "report-notes" }, parsed.after.map((l) => h("li", {}, l))),
    h("details", {}, h("summary", {}, "The report as the model wrote it"), h("pre", { tabindex: "0" }, text)),
  );
}

async function blobOf(url) {
  const response = await api(url, { raw: true });
  return response.blob();
}

function fileName(path) {
  return path.split("/").pop();
}

export async function runPage(main, runId) {
  let run = await api(`/api/v1/runs/${encodeURIComponent(runId)}`);
  const head = h("div", { class: "run-head" });
  const gridBox = h("section", { "aria-labelledby": "h-tasks" });
  const logTitle = h("h2", { id: "h-log" }, "Log");
  const follow = h("input", { type: "checkbox", id: "follow", checked: true });
  const logPre = h("pre", { class: "log", tabindex: "0", "aria-labelledby": "h-log", "aria-live": "off" });
  const logState = h("p", { class: "help" });
  const outputsBox = h("section", { "aria-labelledby": "h-outputs" });
  const mapBox = h("div", { class: "map" });
  const reportBox = h("div");
  const problem = h("div");
  const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" });
  const viewer = h("dialog", { class: "viewer", "aria-label": "Map, full size" });
  let selected = null;
  let stopLog = null;
  let outputsKey = null;
  const urls = [];
  onLeave(() => { if (stopLog) stopLog(); urls.forEach((u) => URL.revokeObjectURL(u)); });

  function openLog(task) {
    if (stopLog) stopLog();
    selected = task.id;
    logTitle.textContent = `Log of ${taskName(task)}`;
    logPre.textContent = "";
    logState.textContent = "Loading the log…";
    let offset = 0;
    stopLog = poll(async () => {
      const page = await api(`${task.logs_url}?offset=${offset}`);
      if (page.text) {
        logPre.append(page.text);
        if (logPre.textContent.length > LOG_KEEP * 1.5) logPre.textContent = logPre.textContent.slice(-LOG_KEEP);
        if (follow.checked) logPre.scrollTop = logPre.scrollHeight;
      }
      offset = page.next_offset;
      const more = page.next_offset < page.size;
      logState.textContent = page.complete && !more ? (page.size ? "The whole log is shown." : "This task wrote nothing to its log.") : "Following: new lines appear as the task writes them.";
      return !page.complete || more;
    }, { every: 1000, immediate: true });
    for (const b of gridBox.querySelectorAll("button.cell")) b.setAttribute("aria-pressed", b.dataset.task === selected ? "true" : "false");
  }

  async function cancel() {
    fill(dialog, 
      h("h2", { id: "confirm-title" }, "Cancel this run?"),
      h("p", {}, "Tasks running now are stopped and the rest never start. Outputs already made are kept."),
      h("form", { method: "dialog", class: "actions" },
        h("button", { value: "keep", autofocus: true }, "Keep it running"),
        h("button", { value: "cancel", class: "danger" }, "Cancel the run"),
      ),
    );
    dialog.showModal();
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "cancel") return;
      try {
        await api(`/api/v1/runs/${encodeURIComponent(run.id)}/cancel`, { method: "POST" });
        await refresh();
      } catch (error) {
        fill(problem, errorBox(error, "The run could not be canceled"));
      }
    }, { once: true });
  }

  async function provenance() {
    try {
      saveBlob(await blobOf(`/api/v1/runs/${encodeURIComponent(run.id)}/provenance`), `r2o-${run.id}-provenance.json`);
    } catch (error) {
      fill(problem, errorBox(error, "The provenance could not be downloaded"));
    }
  }

  function drawHead() {
    const done = (run.task_counts.COMPLETE || 0) + (run.task_counts.CACHED || 0);
    const critical = criticalPath(run.tasks);
    const pathSeconds = critical.length ? (ms(critical[critical.length - 1].finished) - ms(critical[0].started)) / 1000 : null;
    fill(head, 
      h("p", { class: "crumbs" }, h("a", { href: "#/runs" }, "Runs"), " › ", run.name),
      h("h1", {}, run.name, " ", chip(run.state)),
      h("p", { class: "reason", dataset: { state: run.state } }, run.reason),
      h("dl", { class: "facts" },
        h("dt", {}, "Product"), h("dd", {}, run.product, run.parameters && Object.keys(run.parameters).length ? ` (${Object.entries(run.parameters).map(([k, v]) => `${k} ${v}`).join(", ")})` : ""),
        h("dt", {}, "Progress"), h("dd", {}, h("progress", { max: run.tasks_total || 1, value: done, "aria-label": `${done} of ${run.tasks_total} tasks done` }), ` ${done} of ${run.tasks_total} tasks done`),
        h("dt", {}, "Started"), h("dd", {}, when(run.started) || "not yet"),
        h("dt", {}, "Elapsed"), h("dd", { class: "elapsed" }, duration(elapsed(run.started, run.finished)) || "–", run.finished ? ` (finished ${when(run.finished)})` : ""),
        h("dt", {}, "Critical path"), h("dd", { class: "critical-path" }, critical.length ? `${critical.map(taskName).join(" → ")} (${duration(pathSeconds)})` : "known once tasks finish"),
        h("dt", {}, "Cost"), h("dd", {}, `${run.used_vcpu_hours.toFixed(3)} vCPU-hours used (estimate ${run.estimated_vcpu_hours.toFixed(3)}, about ${run.estimated_cost} USD)`),
        run.relaunch_of ? [h("dt", {}, "Relaunch of"), h("dd", {}, h("a", { href: `#/runs/${encodeURIComponent(run.relaunch_of)}` }, "the earlier run"))] : null,
      ),
      h("div", { class: "actions" },
        TERMINAL.has(run.state) || run.state === "CANCELING" ? null : h("button", { type: "button", class: "danger", onclick: cancel }, "Cancel…"),
        run.kind === "tes" ? null : h("a", { class: "button", href: `#/launch/${encodeURIComponent(run.product)}?from=${encodeURIComponent(run.id)}` }, "Relaunch…"),
        h("button", { type: "button", onclick: provenance }, "Download provenance"),
      ),
    );
    fill(gridBox, h("h2", { id: "h-tasks" }, "Tasks"), grid(run, selected, openLog, critical));
  }

  async function drawOutputs() {
    const { outputs } = await api(`/api/v1/runs/${encodeURIComponent(run.id)}/outputs`);
    const shown = outputs.filter((o) => fileName(o.path) !== "provenance.json");
    const rows = shown.map((o) => h("tr", {},
      h("th", { scope: "row" }, o.path),
      h("td", {}, bytes(o.size)),
      h("td", {}, o.media_type),
      h("td", {}, h("code", { title: o.sha256 }, o.sha256.slice(0, 12))),
      h("td", {}, h("button", { type: "button", class: "download", dataset: { path: o.path }, "aria-label": `Download ${o.path}`, onclick: async () => {
        try {
          saveBlob(await blobOf(o.url), fileName(o.path));
        } catch (error) {
          fill(problem, errorBox(error, `${o.path} could not be downloaded`));
        }
      } }, "Download")),
    ));
    fill(outputsBox, 
      h("h2", { id: "h-outputs" }, "Outputs"),
      shown.length
        ? h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Outputs" }, h("table", { class: "outputs" },
            h("caption", {}, "Files the run made (SHA-256 shortened; hover for all of it)"),
            h("thead", {}, h("tr", {}, ["File", "Size", "Type", "SHA-256", ""].map((t) => h("th", { scope: "col" }, t || h("span", { class: "sr-only" }, "Download"))))),
            h("tbody", {}, rows)))
        : h("p", {}, TERMINAL.has(run.state) ? "This run made no output files." : "Outputs appear here as tasks finish."),
    );
    const image = shown.find((o) => o.thumbnail_url && /mda8/i.test(o.path)) || shown.find((o) => o.thumbnail_url);
    clear(mapBox);
    if (image) {
      const thumb = URL.createObjectURL(await blobOf(image.thumbnail_url));
      urls.push(thumb);
      const open = async () => {
        try {
          const full = URL.createObjectURL(await blobOf(image.url));
          urls.push(full);
          fill(viewer, 
            h("img", { src: full, alt: `${image.path}, full size`, class: "full" }),
            h("form", { method: "dialog" }, h("button", { autofocus: true }, "Close")),
          );
          viewer.showModal();
        } catch (error) {
          fill(problem, errorBox(error, "The map could not be opened"));
        }
      };
      mapBox.append(h("h2", {}, "Map"), h("figure", {},
        h("button", { type: "button", class: "thumb", onclick: open, "aria-label": `Open ${image.path} full size` },
          h("img", { src: thumb, alt: `Thumbnail of ${image.path}` })),
        h("figcaption", {}, `${image.path}: select the picture to see it full size.`),
      ));
    }
    const report = shown.find((o) => /(^|\/)report\.txt$/.test(o.path) && o.task.startsWith("compliance"));
    clear(reportBox);
    if (report) {
      const text = await (await api(report.url, { raw: true })).text();
      reportBox.append(h("h2", {}, "Compliance report"), reportView(text));
    }
  }

  let drawn = null;
  async function refresh() {
    run = await api(`/api/v1/runs/${encodeURIComponent(runId)}`);
    const now = JSON.stringify(run, (k, v) => (k === "elapsed_seconds" ? undefined : v));
    if (now !== drawn) {
      drawn = now;
      // redrawing must not take the keyboard focus away from where it was
      const active = document.activeElement;
      const focusKey = active && active.dataset && active.dataset.task ? `[data-task="${CSS.escape(active.dataset.task)}"]` : active && head.contains(active) ? active.textContent : null;
      drawHead();
      if (focusKey && focusKey.startsWith("[")) {
        const again = gridBox.querySelector(focusKey);
        if (again) again.focus();
      } else if (focusKey) {
        const again = [...head.querySelectorAll("button, a")].find((el) => el.textContent === focusKey);
        if (again) again.focus();
      }
    }
    const key = `${run.state}|${(run.task_counts.COMPLETE || 0) + (run.task_counts.CACHED || 0)}`;
    if (key !== outputsKey) {
      outputsKey = key;
      try {
        await drawOutputs();
      } catch (error) {
        if (!(error instanceof ApiError && error.kind === "offline")) fill(outputsBox, errorBox(error, "The outputs could not be listed"));
        else throw error;
      }
    }
    return !TERMINAL.has(run.state);
  }

  fill(main, head, problem, gridBox,
    h("section", { "aria-labelledby": "h-log" }, logTitle,
      h("p", { class: "follow" }, follow, " ", h("label", { for: "follow" }, "Keep the newest lines in view")),
      logPre, logState),
    mapBox, reportBox, outputsBox, dialog, viewer);
  const ticker = setInterval(() => {
    const el = head.querySelector(".elapsed");
    if (el && run.started && !run.finished) el.textContent = duration(elapsed(run.started, null));
  }, 1000);
  onLeave(() => clearInterval(ticker));
  const going = await refresh().catch((error) => { fill(problem, errorBox(error)); return true; });
  const first = run.tasks.find((t) => t.state === "RUNNING") || run.tasks.find((t) => t.state === "EXECUTOR_ERROR" || t.state === "SYSTEM_ERROR") || run.tasks[run.tasks.length - 1];
  if (first) openLog(first);
  if (going) onLeave(poll(refresh, { every: 2000 }));
}
