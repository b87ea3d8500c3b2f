// The dashboard's only way to Usher: the public Cloudflare-compatible API under
// /client/v4, with the account's API token as a Bearer credential. The session (account
// id and token) lives in sessionStorage only: it ends with the tab, is never written to
// localStorage or a cookie, and never appears in a URL.

const SESSION_KEY = 'usher.dashboard.session';

export function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    return s && typeof s.account === 'string' && typeof s.token === 'string' ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** An API error: `message` is the envelope's `errors[0].message`. */
export class ApiError extends Error {
  constructor(message, status = 0, code = null) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The account's API base path, e.g. `/client/v4/accounts/{id}`. */
export function accountBase(session) {
  return `/client/v4/accounts/${encodeURIComponent(session.account)}`;
}

/**
 * Calls `method path` under the account and returns the whole envelope (`result`,
 * `total`, …). `json` is sent as a JSON body, `form` as multipart; `query` entries that
 * are empty are left out.
 */
export async function api(session, method, path, { json, form, query } = {}) {
  const url = new URL(accountBase(session) + path, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  }
  const headers = { authorization: `Bearer ${session.token}`, accept: 'application/json' };
  let body;
  if (json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let resp;
  try {
    resp = await fetch(url, {
      method,
      headers,
      body,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(`Could not reach Usher: ${e.message}`);
  }
  let envelope = null;
  try {
    envelope = await resp.json();
  } catch {
    envelope = null;
  }
  if (!resp.ok || !envelope || envelope.success === false) {
    const first = envelope && Array.isArray(envelope.errors) ? envelope.errors[0] : null;
    throw new ApiError(
      (first && first.message) || `HTTP ${resp.status} ${resp.statusText}`.trim(),
      resp.status,
      first ? first.code : null,
    );
  }
  return envelope;
}

/** Where the edge serves viewers, from the page (`<meta name="usher-edge">`). */
export function edgeUrl() {
  const meta = document.querySelector('meta[name="usher-edge"]');
  const url = (meta && meta.content) || window.location.origin;
  return url.replace(/\/+$/, '');
}

/** The player page of a video: by uid for a public one, by a signed token otherwise. */
export function iframeUrl(id) {
  return `${edgeUrl()}/${id}/iframe`;
}

/**
 * Viewers of a live input now, summed over every edge (`GET {edge}/{uid}/views`, as
 * Cloudflare's endpoint of that name): public, so no token goes with it.
 */
export async function liveViewers(uid) {
  const resp = await fetch(`${edgeUrl()}/${encodeURIComponent(uid)}/views`, {
    credentials: 'omit',
    cache: 'no-store',
  });
  if (!resp.ok) throw new ApiError(`The edge answered ${resp.status} for the viewer count`, resp.status);
  const body = await resp.json();
  return typeof body.liveViewers === 'number' ? body.liveViewers : 0;
}

export function hlsUrl(id) {
  return `${edgeUrl()}/${id}/manifest/video.m3u8`;
}

/** Cloudflare's embed code, as `GET …/stream/{uid}/embed` writes it. */
export function embedCode(id) {
  return `<iframe src="${iframeUrl(id)}" style="border: none;" height="720" width="1280" `
    + 'allow="accelerometer; gyroscope; autoplay; encrypted-media; picture-in-picture;" '
    + 'allowfullscreen="true"></iframe>';
}

/** A signed URL token for a video or live input, minted by Usher with the account key. */
export async function mintToken(session, uid, body = {}) {
  const env = await api(session, 'POST', `/stream/${uid}/token`, { json: body });
  return env.result.token;
}
