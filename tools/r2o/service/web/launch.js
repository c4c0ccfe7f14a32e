// The launch form: parameters from the product's schema, input files, a check (validate_only) that
// shows what would run and cost, then the launch (or a relaunch of an earlier run, pre-filled).
import { ApiError, api } from "./api.js";
import { errorBox, keepForm, savedForm } from "./app.js";
import { clear, duration, h, money, fill } from "./dom.js";
import { schemaForm } from "./form.js";

const DAY_IN_NAME = /(\d{4}-\d{2}-\d{2})/;

/** The file pickers a product needs: a component's file inputs, a pipeline's per-day files. */
function inputPickers(product) {
  const pickers = [];
  for (const input of product.inputs || []) {
    const id = `in-${input.name}`;
    const helpId = `help-${id}`;
    const errorId = `error-${id}`;
    if (input.kind === "directory") {
      pickers.push({ input, element: h("p", { class: "help" }, `${input.name}: a folder input; upload folders with the r2o command line.`) });
      continue;
    }
    const perDay = input.per_day;
    const optional = input.prepared_by_service || !input.required;
    const control = h("input", { type: "file", id, name: input.name, multiple: perDay, "aria-describedby": `${helpId} ${errorId}` });
    const help = perDay
      ? `${input.description} One file per day, with its date in the file name (e.g. ${input.name}_2024-07-15.nc).` +
        (input.prepared_by_service ? " Optional: the service makes any day's file you do not give." : "")
      : input.description;
    const element = h("div", { class: "field", dataset: { field: `inputs.${input.name}` } },
      h("label", { for: id }, `${input.name} (${input.format} file${perDay ? "s" : ""})`, optional ? " (optional)" : h("span", { class: "req" }, " (required)")),
      control,
      h("p", { class: "help", id: helpId }, help),
      h("p", { class: "field-error", id: errorId }),
    );
    pickers.push({ input, control, element, optional, uploaded: new Map() });
  }
  return pickers;
}

async function upload(file, cache) {
  if (cache.has(file)) return cache.get(file);
  const form = new FormData();
  form.append("file", file, file.name);
  const answer = await api("/api/v1/uploads", { method: "POST", form });
  cache.set(file, answer.id);
  return answer.id;
}

/** Upload the chosen files; the request's ``inputs`` and any errors by field. */
async function uploadInputs(pickers, product) {
  const inputs = {};
  const errors = [];
  for (const p of pickers) {
    if (!p.control) continue;
    const files = [...p.control.files];
    if (!files.length) {
      if (!p.optional) errors.push({ field: `inputs.${p.input.name}`, message: `required: choose a ${p.input.format} file` });
      continue;
    }
    if (p.input.per_day) {
      const byDay = {};
      for (const f of files) {
        const day = (f.name.match(DAY_IN_NAME) || [])[1];
        if (!day) errors.push({ field: `inputs.${p.input.name}`, message: `${f.name} has no date (YYYY-MM-DD) in its name` });
        else byDay[day] = f;
      }
      if (errors.length) continue;
      inputs[p.input.name] = {};
      for (const [day, f] of Object.entries(byDay)) inputs[p.input.name][day] = await upload(f, p.uploaded);
    } else {
      inputs[p.input.name] = await upload(files[0], p.uploaded);
    }
  }
  return { inputs: product.kind === "pipeline" || Object.keys(inputs).length ? inputs : undefined, errors };
}

function showInputErrors(pickers, errors) {
  const rest = [];
  for (const p of pickers) {
    if (!p.control) continue;
    const mine = errors.filter((e) => e.field === `inputs.${p.input.name}` || e.field.startsWith(`inputs.${p.input.name}.`));
    p.element.querySelector(".field-error").textContent = mine.map((e) => e.message).join("; ");
    if (mine.length) p.control.setAttribute("aria-invalid", "true");
    else p.control.removeAttribute("aria-invalid");
  }
  for (const e of errors) if (!pickers.some((p) => p.control && e.field.startsWith(`inputs.${p.input.name}`))) rest.push(e);
  return rest;
}

function planView(plan) {
  const seconds = plan.steps.reduce((sum, s) => sum + s.seconds_per_task, 0);
  return h("div", { class: "plan" },
    h("p", { class: "plan-summary" },
      h("strong", {}, `${plan.tasks} task${plan.tasks === 1 ? "" : "s"}`), ", ",
      h("strong", {}, `${plan.vcpu_hours.toFixed(3)} vCPU-hours`), ", estimated cost ",
      h("strong", {}, money(plan.estimated_cost, plan.currency)),
      ` (each day's steps take up to about ${duration(seconds)})`,
    ),
    h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "What would run" }, h("table", {},
      h("caption", {}, "What would run"),
      h("thead", {}, h("tr", {}, ["Step", "Component", "Tasks", "vCPUs each", "Time per task (estimate)"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, plan.steps.map((s) => h("tr", {}, h("th", { scope: "row" }, s.step), h("td", {}, s.component), h("td", {}, s.tasks), h("td", {}, s.vcpus), h("td", {}, duration(s.seconds_per_task))))),
    )),
    plan.prepared_inputs.length
      ? h("p", { class: "help" }, `The service will make these input files itself: ${plan.prepared_inputs.join(", ")}.`)
      : null,
  );
}

export async function launchPage(main, name, fromRun) {
  const product = await api(`/api/v1/products/${encodeURIComponent(name || "")}`);
  let previous = null;
  if (fromRun) previous = await api(`/api/v1/runs/${encodeURIComponent(fromRun)}`);
  const saved = savedForm();
  const form = schemaForm(product, (saved && saved.parameters) || (previous && previous.parameters) || {});
  const runName = h("input", { type: "text", id: "f-run-name", name: "run-name", maxlength: 200, "aria-describedby": "help-run-name" });
  runName.value = (saved && saved.name) || (previous ? `${previous.name} (relaunch)`.slice(0, 200) : "");
  const pickers = inputPickers(product);
  const result = h("div", { class: "check-result", "aria-live": "polite" });
  const checkButton = h("button", { type: "button" }, "Check");
  const launchButton = h("button", { type: "submit", class: "primary", disabled: true }, previous ? "Relaunch" : "Launch");
  const launchNote = h("p", { class: "help", id: "launch-note" }, "Check first: it shows what would run and what it costs.");
  launchButton.setAttribute("aria-describedby", "launch-note");
  let checked = null; // the request a successful check answered for

  keepForm(() => ({ name: runName.value, parameters: form.snapshot() }));

  function request() {
    return { product: product.name, name: runName.value.trim() || undefined, parameters: form.values() };
  }

  function showErrors(errors) {
    const rest = showInputErrors(pickers, form.showErrors(errors));
    return rest.filter((e) => !e.field.startsWith("parameters."));
  }

  async function check() {
    clear(result);
    launchButton.disabled = true;
    checked = null;
    const local = form.check();
    showInputErrors(pickers, []);
    if (local.length) {
      form.showErrors(local);
      result.append(h("p", { class: "error", role: "alert" }, "Some values need fixing: see the messages under the fields."));
      return null;
    }
    form.showErrors([]);
    result.append(h("p", {}, "Checking…"));
    try {
      const { inputs, errors } = await uploadInputs(pickers, product);
      if (errors.length) {
        showErrors(errors);
        fill(result, h("p", { class: "error", role: "alert" }, "Some files need fixing: see the messages under them."));
        return null;
      }
      const body = { ...request(), inputs };
      const answer = await api("/api/v1/runs", { method: "POST", body: { ...body, validate_only: true } });
      clear(result);
      if (!answer.valid) {
        const rest = showErrors(answer.errors);
        result.append(h("div", { class: "error", role: "alert" }, "The service would not run this: ",
          rest.length ? rest.map((e) => `${e.field}: ${e.message}`).join("; ") : "see the messages under the fields."));
        return null;
      }
      result.append(planView(answer.plan));
      const q = answer.quota.vcpu_hours_this_month;
      result.append(h("p", { class: "help" }, `You have ${q.left} of your ${q.limit} vCPU-hours left this month.`));
      checked = JSON.stringify(body);
      launchButton.disabled = false;
      launchNote.textContent = "The check passed: launch when ready.";
      return body;
    } catch (error) {
      fill(result, errorBox(error, "The check did not work"));
      return null;
    }
  }

  async function launch(event) {
    event.preventDefault();
    const body = checked ? JSON.parse(checked) : await check();
    if (!body) return;
    launchButton.disabled = true;
    try {
      const run = previous
        ? await api(`/api/v1/runs/${encodeURIComponent(previous.id)}/relaunch`, {
            method: "POST",
            // no files chosen: the earlier run's inputs stay (the service keeps what is not sent)
            body: { name: body.name, parameters: body.parameters, inputs: body.inputs && Object.keys(body.inputs).length ? body.inputs : undefined },
          })
        : await api("/api/v1/runs", { method: "POST", body });
      location.hash = `#/runs/${encodeURIComponent(run.id)}`;
    } catch (error) {
      launchButton.disabled = false;
      if (error instanceof ApiError && error.fields.length) showErrors(error.fields);
      result.append(errorBox(error, "The run was not launched"));
    }
  }

  const formEl = h("form", { novalidate: true, onsubmit: launch, class: "launch" },
    h("div", { class: "field" },
      h("label", { for: "f-run-name" }, "Run name (optional)"),
      runName,
      h("p", { class: "help", id: "help-run-name" }, "A name to find the run by; one line."),
    ),
    form.element,
    pickers.map((p) => p.element),
    h("div", { class: "actions" }, checkButton, launchButton),
    launchNote,
    result,
  );
  formEl.addEventListener("input", () => {
    if (checked) {
      checked = null;
      launchButton.disabled = true;
      launchNote.textContent = "The form changed: check again before launching.";
    }
  });
  checkButton.addEventListener("click", check);

  fill(main, 
    h("p", { class: "crumbs" }, h("a", { href: "#/catalog" }, "Catalog"), " › ", product.name),
    h("h1", {}, previous ? `Relaunch ${product.name}` : `Launch ${product.name}`),
    previous ? h("p", {}, "Pre-filled from ", h("a", { href: `#/runs/${encodeURIComponent(previous.id)}` }, previous.name), "; change what you need.") : null,
    h("p", { class: "lead" }, product.description),
    formEl,
  );
}
