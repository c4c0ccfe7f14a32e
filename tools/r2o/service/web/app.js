// The r2o web page: a router over #/ routes (works unchanged from an S3 bucket), sign-in, the pages.
import { ApiError, api, configureApi, setStatus } from "./api.js";
import { authMode, signIn, signOut, signedIn, startAuth } from "./auth.js";
import { clear, h, fill } from "./dom.js";
import { accountPage, catalogPage } from "./pages.js";
import { launchPage } from "./launch.js";
import { runsPage } from "./runs.js";
import { runPage } from "./run.js";

const main = document.getElementById("main");
const RETURN = "r2o.return";
let leaving = [];
let formSnapshot = null;
let me = null;

/** Pages register what to stop (pollers, timers) when the user goes elsewhere. */
export function onLeave(fn) {
  leaving.push(fn);
}

/** A page with a form says how to save it, so a sign-in in between loses nothing. */
export function keepForm(snapshot) {
  formSnapshot = snapshot;
}

/** The form saved for this route before a sign-in, once. */
export function savedForm() {
  const saved = JSON.parse(sessionStorage.getItem(RETURN) || "null");
  if (!saved || saved.hash !== location.hash) return null;
  sessionStorage.removeItem(RETURN);
  return saved.form;
}

export function identity() {
  return me;
}

function route() {
  const hash = location.hash || "#/catalog";
  if (!hash.startsWith("#/")) return null; // the skip link's #main
  const [path, query] = hash.slice(2).split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query || "") };
}

/** An error as a forecaster should read it: what failed and what to do; never a trace or JSON. */
export function errorBox(error, what) {
  const text = error instanceof ApiError ? error.message : `Something went wrong in this page: ${error.message || error}. Reload the page to try again.`;
  return h("div", { class: "error", role: "alert" }, h("strong", {}, what ? `${what}: ` : ""), text);
}

function signInNeeded() {
  if (authMode() !== "oidc") return;
  const snapshot = formSnapshot ? formSnapshot() : null;
  const earlier = JSON.parse(sessionStorage.getItem(RETURN) || "null");
  // several requests may be refused at once: the first one, made while the form was there, saved it
  if (snapshot || !earlier || earlier.hash !== location.hash) {
    sessionStorage.setItem(RETURN, JSON.stringify({ hash: location.hash, form: snapshot }));
  }
  signOut();
  render();
}

function signInPage(message) {
  const button = h("button", { type: "button", class: "primary", onclick: () => signIn(location.hash || "#/catalog").catch((e) => {
    fill(note, errorBox(new ApiError("offline", `The sign-in service is not answering (${e.message}). Try again in a minute.`)));
  }) }, "Sign in");
  const note = h("div");
  fill(main,
    h("h1", {}, "Sign in"),
    message ? h("div", { class: "error", role: "alert" }, message) : null,
    h("p", {}, "Sign in with your organisation's account to launch products and see your runs. What you were typing is kept."),
    button,
    note,
  );
  button.focus();
}

async function showWho() {
  const who = document.getElementById("who");
  clear(who);
  if (!signedIn()) return;
  try {
    me = await api("/api/v1/me");
  } catch {
    me = null;
    return;
  }
  if (authMode() === "oidc") {
    who.append(
      h("span", {}, "Signed in as ", h("strong", {}, me.name)),
      " ",
      h("button", { type: "button", class: "link", onclick: () => { signOut(); me = null; showWho(); render(); } }, "Sign out"),
    );
  } else {
    who.append(h("span", {}, "You are ", h("strong", {}, me.name), " (this service runs without sign-in, on this computer only)"));
  }
}

const PAGES = {
  catalog: (q) => catalogPage(main),
  launch: (q, parts) => launchPage(main, parts[1], q.get("from")),
  runs: (q, parts) => (parts[1] ? runPage(main, parts[1]) : runsPage(main, q)),
  account: () => accountPage(main),
};

async function render() {
  const where = route();
  if (!where) return;
  for (const fn of leaving.splice(0)) fn();
  formSnapshot = null;
  setStatus("");
  if (!signedIn()) {
    signInPage(sessionStorage.getItem(RETURN) ? "Your sign-in has ended. Sign in again to carry on where you were." : null);
    return;
  }
  const page = PAGES[where.parts[0]] || PAGES.catalog;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === `#/${where.parts[0] || "catalog"}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  clear(main);
  main.append(h("p", { class: "loading" }, "Loading…"));
  try {
    await page(where.query, where.parts);
  } catch (error) {
    if (error instanceof ApiError && error.kind === "signin") return;
    fill(main, h("h1", {}, "This page could not be shown"), errorBox(error));
  }
  const heading = main.querySelector("h1");
  if (heading && document.activeElement === document.body) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

async function start() {
  let config;
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    config = await response.json();
  } catch {
    fill(main, h("h1", {}, "The page cannot start"), h("div", { class: "error", role: "alert" },
      "It could not read its settings (config.json) from the server. Reload the page in a minute; if it keeps failing, tell whoever runs the service."));
    return;
  }
  configureApi(config.api_base, signInNeeded);
  try {
    const { returnTo } = await startAuth(config);
    if (returnTo) location.hash = returnTo;
  } catch (error) {
    signInPage(`Signing in did not work: ${error.message}.`);
    document.body.dataset.ready = "true";
    return;
  }
  window.addEventListener("hashchange", render);
  document.getElementById("skip").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  await showWho();
  await render();
  document.body.dataset.readyMs = String(Math.round(performance.now())); // benchmarks/web_load.py
  document.body.dataset.ready = "true"; // the tests and the load benchmark wait for this
}

start();
