// The launch form, drawn from a product's JSON Schema (the schema the server validates with), and
// client-side checks that mirror the server's (same rules, same words).
import { h } from "./dom.js";

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function isDate(text) {
  if (!DATE.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

function addDays(text, n) {
  const d = new Date(`${text}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function daysBetween(first, last) {
  return Math.round((new Date(`${last}T00:00:00Z`) - new Date(`${first}T00:00:00Z`)) / 86400000) + 1;
}

/** The server's words for one value against its property (launch._schema_message). */
export function problem(prop, value, required) {
  if (value === undefined || value === "" || value === null) return required ? "required" : null;
  if (prop.type === "integer" || prop.type === "number") {
    if (typeof value !== "number" || Number.isNaN(value)) return `must be a ${prop.type === "integer" ? "integer" : "number"}`.replace("a integer", "an integer");
    if (prop.type === "integer" && !Number.isInteger(value)) return "must be an integer";
    if (prop.minimum !== undefined && value < prop.minimum) return `${value} is below the minimum ${prop.minimum}`;
    if (prop.maximum !== undefined && value > prop.maximum) return `${value} is above the maximum ${prop.maximum}`;
  }
  if (prop.enum && !prop.enum.includes(value)) return `'${value}' is not one of ${prop.enum.join(", ")}`;
  if (prop.format === "date" && !isDate(String(value))) return `'${value}' is not a date (YYYY-MM-DD)`;
  return null;
}

function fieldBox(name, label, control, help, required) {
  const helpId = `help-${name}`;
  const errorId = `error-${name}`;
  control.id = `f-${name}`;
  control.setAttribute("aria-describedby", `${help ? helpId : ""} ${errorId}`.trim());
  if (required) control.required = true;
  return h(
    "div",
    { class: "field", dataset: { field: name } },
    h("label", { for: control.id }, label, required ? h("span", { class: "req" }, " (required)") : null),
    control,
    help ? h("p", { class: "help", id: helpId }, help) : null,
    h("p", { class: "field-error", id: errorId }),
  );
}

/**
 * The form of a product: ``values`` pre-fills it (a relaunch). Returns the element and
 * values() / check() / showErrors() / snapshot() / restore().
 */
export function schemaForm(product, values = {}) {
  const schema = product.parameters_schema || { properties: {} };
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const controls = {}; // parameter -> {read(), write(v), box}
  const boxes = [];
  const range = props.start && props.start.format === "date" && props.days && props.days.type === "integer";

  if (range) {
    const maxDays = props.days.maximum || 1;
    const first = h("input", { type: "date", name: "start" });
    const last = h("input", { type: "date", name: "last" });
    const span = h("p", { class: "span-note", "aria-live": "polite" });
    const sync = () => {
      if (isDate(first.value)) {
        last.min = first.value;
        last.max = addDays(first.value, maxDays - 1);
        if (!isDate(last.value)) last.value = first.value;
      }
      const n = isDate(first.value) && isDate(last.value) ? daysBetween(first.value, last.value) : null;
      span.textContent = n && n > 0 ? `${n} day${n === 1 ? "" : "s"} (at most ${maxDays})` : "";
    };
    first.addEventListener("input", sync);
    last.addEventListener("input", sync);
    const startValue = values.start || props.start.default || "";
    first.value = startValue;
    const dayCount = values.days || props.days.default || 1;
    if (startValue && isDate(startValue)) last.value = addDays(startValue, dayCount - 1);
    const firstBox = fieldBox("start", props.start.title || "first day", first, props.start.description, true);
    const lastBox = fieldBox("days", "last day", last, `The last day to forecast: at most ${maxDays} days from the first.`, true);
    controls.start = { read: () => first.value, write: (v) => { first.value = v; sync(); }, box: firstBox };
    controls.days = {
      read: () => (isDate(first.value) && isDate(last.value) ? daysBetween(first.value, last.value) : NaN),
      write: (n) => { if (isDate(first.value)) last.value = addDays(first.value, n - 1); sync(); },
      box: lastBox,
    };
    boxes.push(h("fieldset", { class: "range" }, h("legend", {}, "Dates (UTC)"), firstBox, lastBox, span));
    sync();
  }

  for (const [name, prop] of Object.entries(props)) {
    if (range && (name === "start" || name === "days")) continue;
    const initial = values[name] !== undefined ? values[name] : prop.default;
    let control;
    let read;
    let write;
    if (prop.enum) {
      control = h("select", { name }, required.has(name) ? null : h("option", { value: "" }, "(default)"), prop.enum.map((v) => h("option", { value: String(v) }, String(v))));
      read = () => (control.value === "" ? undefined : prop.enum.find((v) => String(v) === control.value));
      write = (v) => { control.value = v === undefined ? "" : String(v); };
    } else if (prop.type === "boolean") {
      control = h("input", { type: "checkbox", name });
      read = () => control.checked;
      write = (v) => { control.checked = Boolean(v); };
    } else if (prop.type === "integer" || prop.type === "number") {
      control = h("input", {
        type: "number",
        name,
        inputmode: prop.type === "integer" ? "numeric" : "decimal",
        step: prop.type === "integer" ? "1" : "any",
        min: prop.minimum,
        max: prop.maximum,
      });
      read = () => (control.value.trim() === "" ? (control.validity.badInput ? NaN : undefined) : Number(control.value));
      write = (v) => { control.value = v === undefined || v === null ? "" : String(v); };
    } else {
      control = h("input", { type: prop.format === "date" ? "date" : "text", name });
      read = () => (control.value === "" ? undefined : control.value);
      write = (v) => { control.value = v === undefined || v === null ? "" : String(v); };
    }
    write(initial);
    const limits = [];
    if (prop.minimum !== undefined) limits.push(`at least ${prop.minimum}`);
    if (prop.maximum !== undefined) limits.push(`at most ${prop.maximum}`);
    if (prop.default !== undefined) limits.push(`default ${prop.default}`);
    const help = [prop.description, limits.length ? `(${limits.join(", ")})` : ""].filter(Boolean).join(" ");
    const box = fieldBox(name, prop.title || name, control, help, required.has(name));
    controls[name] = { read, write, box };
    boxes.push(box);
  }

  const element = h("div", { class: "schema-form" }, boxes.length ? boxes : h("p", {}, "This product takes no parameters."));

  function read() {
    const out = {};
    for (const [name, c] of Object.entries(controls)) {
      const v = c.read();
      if (v !== undefined) out[name] = v;
    }
    return out;
  }

  function showErrors(errors) {
    for (const c of Object.values(controls)) setError(c.box, "");
    const unplaced = [];
    for (const e of errors) {
      const name = e.field.replace(/^parameters\./, "");
      if (controls[name] && e.field.startsWith("parameters.")) setError(controls[name].box, e.message);
      else unplaced.push(e);
    }
    const firstBad = element.querySelector("[aria-invalid='true']");
    if (firstBad) firstBad.focus();
    return unplaced;
  }

  function check() {
    const errors = [];
    const v = read();
    for (const [name, prop] of Object.entries(props)) {
      const value = v[name];
      if (range && name === "days" && (Number.isNaN(value) || value < 1)) {
        if (isDate(String(v.start))) errors.push({ field: "parameters.days", message: "the last day must be a date on or after the first" });
        continue;
      }
      const message = problem(prop, value, required.has(name));
      if (message) errors.push({ field: `parameters.${name}`, message });
    }
    return errors;
  }

  return {
    element,
    values: () => {
      const v = read();
      for (const [k, x] of Object.entries(v)) if (typeof x === "number" && Number.isNaN(x)) delete v[k];
      return v;
    },
    check,
    showErrors,
    snapshot: () => read(),
    restore: (saved) => { for (const [k, x] of Object.entries(saved || {})) if (controls[k]) controls[k].write(x); },
  };
}

function setError(box, message) {
  const control = box.querySelector("input, select");
  const slot = box.querySelector(".field-error");
  slot.textContent = message || "";
  if (message) control.setAttribute("aria-invalid", "true");
  else control.removeAttribute("aria-invalid");
}
