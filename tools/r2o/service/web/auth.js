// Sign-in: OIDC authorization code flow with PKCE against the configured issuer (Cognito's hosted UI
// on AWS). Tokens live in this tab's sessionStorage only: never localStorage, never a URL.
const TOKENS = "r2o.tokens";
const FLOW = "r2o.signin";
const REFRESH_AHEAD_S = 120;

let config = { auth: "none" };
let discovery = null;
let refreshTimer = null;

function b64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(n = 32) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** The claims of a JWT (not verified here: the service verifies every token it is sent). */
export function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = atob(part + "=".repeat((4 - (part.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

function stored() {
  try {
    return JSON.parse(sessionStorage.getItem(TOKENS) || "null");
  } catch {
    return null;
  }
}

function store(tokens) {
  if (tokens) sessionStorage.setItem(TOKENS, JSON.stringify(tokens));
  else sessionStorage.removeItem(TOKENS);
}

export function authMode() {
  return config.auth;
}

/** The Authorization header value, or null (auth none, or not signed in). */
export function bearer() {
  if (config.auth !== "oidc") return null;
  const tokens = stored();
  if (!tokens || !tokens.id_token) return null;
  if (tokens.exp && tokens.exp * 1000 < Date.now()) return null;
  return `Bearer ${tokens.id_token}`;
}

export function signedIn() {
  return config.auth !== "oidc" || bearer() !== null;
}

async function endpoints() {
  if (discovery) return discovery;
  const issuer = config.issuer.replace(/\/$/, "");
  const response = await fetch(`${issuer}/.well-known/openid-configuration`, { cache: "no-store" });
  if (!response.ok) throw new Error(`the sign-in service answered ${response.status}`);
  discovery = await response.json();
  return discovery;
}

function redirectUri() {
  return location.origin + location.pathname;
}

function keep(tokens, answer) {
  const idToken = answer.id_token || tokens.id_token;
  const kept = {
    id_token: idToken,
    refresh_token: answer.refresh_token || tokens.refresh_token || null,
    exp: claims(idToken).exp || null,
  };
  store(kept);
  schedule(kept);
  return kept;
}

async function tokenRequest(fields) {
  const { token_endpoint: url } = await endpoints();
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
    cache: "no-store",
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(answer.error_description || answer.error || `the sign-in service answered ${response.status}`);
  }
  return answer;
}

/** Refresh before the ID token expires; an issuer that gives no new ID token leaves sign-in to the next 401. */
function schedule(tokens) {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  if (!tokens || !tokens.refresh_token || !tokens.exp) return;
  const wait = Math.max(5, tokens.exp - Date.now() / 1000 - REFRESH_AHEAD_S) * 1000;
  refreshTimer = setTimeout(refresh, Math.min(wait, 2 ** 31 - 1));
}

export async function refresh() {
  const tokens = stored();
  if (!tokens || !tokens.refresh_token) return false;
  try {
    const answer = await tokenRequest({
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
      client_id: config.client_id,
    });
    if (!answer.id_token) return false;
    keep(tokens, answer);
    return true;
  } catch {
    // the issuer is unreachable or refused: the next 401 leads to sign-in, with the form kept
    return false;
  }
}

/** Load the page's configuration and finish a sign-in the issuer redirected back from. */
export async function startAuth(pageConfig) {
  config = pageConfig;
  if (config.auth !== "oidc") return { returnTo: null };
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) {
    schedule(stored());
    return { returnTo: null };
  }
  const flow = JSON.parse(sessionStorage.getItem(FLOW) || "null");
  sessionStorage.removeItem(FLOW);
  // the code and state leave the address bar (and the history) before anything else happens
  history.replaceState(null, "", location.pathname + ((flow && flow.returnTo) || "#/catalog"));
  if (params.has("error")) {
    throw new Error(`the sign-in service said: ${params.get("error_description") || params.get("error")}`);
  }
  if (!flow || params.get("state") !== flow.state) {
    throw new Error("this sign-in answer does not belong to a sign-in started from this tab; sign in again");
  }
  const answer = await tokenRequest({
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: redirectUri(),
    client_id: config.client_id,
    code_verifier: flow.verifier,
  });
  if (!answer.id_token) throw new Error("the sign-in service gave no ID token; ask its administrator for the openid scope");
  if (claims(answer.id_token).nonce !== flow.nonce) throw new Error("the sign-in answer was not for this sign-in; sign in again");
  keep({}, answer);
  return { returnTo: flow.returnTo };
}

/** Go to the issuer's sign-in page; come back to ``returnTo`` (a #/ route). */
export async function signIn(returnTo) {
  const { authorization_endpoint: url } = await endpoints();
  const verifier = randomText(48);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const flow = { verifier, state: randomText(), nonce: randomText(), returnTo };
  sessionStorage.setItem(FLOW, JSON.stringify(flow));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: redirectUri(),
    scope: config.scopes || "openid",
    state: flow.state,
    nonce: flow.nonce,
    code_challenge: b64url(digest),
    code_challenge_method: "S256",
  });
  location.assign(`${url}?${query}`);
}

export function signOut() {
  store(null);
  schedule(null);
}
