// The catalog and the account pages.
import { api } from "./api.js";
import { errorBox } from "./app.js";
import { duration, fill, h, money } from "./dom.js";

function yesterday() {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

/** Defaults for an estimate: the schema's defaults, and for a date range one day (yesterday). */
function defaults(product) {
  const props = (product.parameters_schema || {}).properties || {};
  const out = {};
  for (const [name, prop] of Object.entries(props)) if (prop.default !== undefined) out[name] = prop.default;
  if (props.start && out.start === undefined) out.start = yesterday();
  return out;
}

async function typical(product, slot) {
  try {
    const answer = await api("/api/v1/runs", {
      method: "POST",
      body: { product: product.name, parameters: defaults(product), validate_only: true },
    });
    if (!answer.valid) {
      slot.textContent = "needs your input files to estimate";
      return;
    }
    const plan = answer.plan;
    // the steps of one day run one after another (the longest chain); a day's steps are estimates
    const seconds = plan.steps.reduce((sum, s) => sum + s.seconds_per_task, 0);
    const perDay = product.kind === "pipeline" ? " for one day" : "";
    slot.textContent = `${plan.tasks} task${plan.tasks === 1 ? "" : "s"}${perDay}, up to about ${duration(seconds)}, ${plan.vcpu_hours.toFixed(2)} vCPU-hours, about ${money(plan.estimated_cost, plan.currency)}`;
  } catch {
    slot.textContent = "not available right now";
  }
}

export async function catalogPage(main) {
  const { products } = await api("/api/v1/products");
  // AQcast first, then the other pipelines, then the components
  products.sort((a, b) => (a.name !== "aqcast") - (b.name !== "aqcast") || (a.kind !== "pipeline") - (b.kind !== "pipeline") || a.name.localeCompare(b.name));
  const list = h("ul", { class: "cards" });
  for (const p of products) {
    const estimate = h("dd", {}, "estimating…");
    list.append(
      h("li", { class: "card" },
        h("h2", {}, p.name, " ", h("span", { class: `kind k-${p.kind}` }, p.kind)),
        h("p", {}, p.description || "No description."),
        h("dl", { class: "facts" },
          h("dt", {}, "Owner"), h("dd", {}, p.owners.length ? p.owners.join(", ") : "not given"),
          h("dt", {}, "Version"), h("dd", {}, p.version),
          p.kind === "pipeline" ? [h("dt", {}, "Steps"), h("dd", {}, p.components.join(", "))] : null,
          h("dt", {}, "Typical"), estimate,
        ),
        h("a", { class: "button primary", href: `#/launch/${encodeURIComponent(p.name)}`, "aria-label": `Launch ${p.name}` }, "Launch"),
      ),
    );
    typical(p, estimate);
  }
  fill(main, 
    h("h1", {}, "Products"),
    h("p", { class: "lead" }, "Pick a product to launch. Typical figures are estimates from runs on this service (or the products' time limits when none ran yet)."),
    list,
  );
}

function quotaRow(label, q, unit) {
  const used = Number(q.used);
  const limit = Number(q.limit);
  return h("tr", {},
    h("th", { scope: "row" }, label),
    h("td", {}, `${used}${unit}`),
    h("td", {}, `${q.left}${unit}`),
    h("td", {}, `${limit}${unit}`),
    h("td", {}, h("meter", { min: 0, max: limit || 1, value: used, "aria-label": `${label}: ${used} of ${limit} used` })),
  );
}

export async function accountPage(main) {
  let me;
  try {
    me = await api("/api/v1/me");
  } catch (error) {
    fill(main, h("h1", {}, "Your account"), errorBox(error, "Your account could not be read"));
    return;
  }
  const q = me.quota;
  fill(main, 
    h("h1", {}, "Your account"),
    h("dl", { class: "facts" },
      h("dt", {}, "Name"), h("dd", {}, me.name),
      h("dt", {}, "User id"), h("dd", {}, me.user),
      h("dt", {}, "Groups"), h("dd", {}, me.groups.length ? me.groups.join(", ") : "none"),
      h("dt", {}, "Sees"), h("dd", {}, me.admin ? "everyone's runs (administrator)" : "your own runs"),
    ),
    h("h2", {}, "Quota"),
    h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": "Quota" }, h("table", {},
      h("caption", {}, "What you may use, and what is left"),
      h("thead", {}, h("tr", {}, ["", "Used", "Left", "Limit", "Share used"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {},
        quotaRow("Runs queued or running at once", q.concurrent_runs, ""),
        quotaRow("vCPU-hours this month", q.vcpu_hours_this_month, " h"),
      ),
    )),
  );
}
