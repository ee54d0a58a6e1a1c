// The HTTP client: the token in X-Auth-Token, the chosen language in X-Language on every call,
// and one error shape for everything that can go wrong ({code, message, status, requestId}).
import { apiLanguage, t } from './i18n.js';

const STORE_KEY = 'taurus.console.auth';
const TOKEN_GONE = new Set(['APIGW.0301', 'APIGW.0307']);

export class ApiError extends Error {
  constructor({ status = 0, code = '', message = '', requestId = '' }) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }

  get tokenGone() {
    return this.status === 401 && TOKEN_GONE.has(this.code);
  }
}

// --- the signed-in session (sessionStorage: gone when the tab closes) ---------------------------
export const auth = {
  // {session, expired}: the stored sign-in, or why there is none (reading changes nothing).
  read() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null');
      if (!saved || !saved.token) return { session: null, expired: false };
      if (saved.expiresAt && Date.parse(saved.expiresAt) <= Date.now()) return { session: null, expired: true };
      return { session: saved, expired: false };
    } catch {
      return { session: null, expired: false };
    }
  },
  load() {
    return this.read().session;
  },
  save(session) {
    sessionStorage.setItem(STORE_KEY, JSON.stringify(session));
  },
  clear() {
    sessionStorage.removeItem(STORE_KEY);
  },
};

let onTokenGone = () => {};
export function whenTokenGone(handler) {
  onTokenGone = handler;
}

async function errorFrom(response) {
  const requestId = response.headers.get('X-Request-Id') || '';
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (body && typeof body.error_code === 'string') {
    return new ApiError({ status: response.status, code: body.error_code, message: body.error_msg || '', requestId });
  }
  if (body && body.error && typeof body.error === 'object') {
    // Keystone's shape (the sign-in call): {"error": {"code": 401, "message", "title"}}
    const e = body.error;
    return new ApiError({ status: response.status, code: String(e.code || response.status), message: e.message || e.title || '', requestId });
  }
  return new ApiError({
    status: response.status,
    code: `HTTP ${response.status}`,
    message: response.statusText || t('error.unexpected'),
    requestId,
  });
}

// raw: the answer is not JSON (a download): {text, response} instead of {data, response}.
export async function request(method, path, { query, body, token, signal, raw = false } = {}) {
  let session = null;
  if (token === undefined) {
    const stored = auth.read();
    session = stored.session;
    if (!session) {
      // The token ran out (or was dropped in another tab): no call without one; back to sign-in.
      const error = new ApiError({ status: 401, code: t('error.scriptCode'), message: t('auth.expired') });
      if (stored.expired) {
        auth.clear();
        onTokenGone(error, true);
      }
      throw error;
    }
  }
  const headers = { Accept: 'application/json', 'X-Language': apiLanguage() };
  const sendToken = token !== undefined ? token : session && session.token;
  if (sendToken) headers['X-Auth-Token'] = sendToken;
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '' || v === false) continue;
      params.set(k, String(v));
    }
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const init = { method, headers, signal, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (exc) {
    if (exc && exc.name === 'AbortError') throw exc;
    throw new ApiError({ code: t('error.networkCode'), message: t('error.network') });
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (error.tokenGone && token === undefined) {
      // Only the token that failed is dropped: an answer to an older call must not end a newer sign-in.
      const current = auth.load();
      if (current && current.token === sendToken) {
        auth.clear();
        onTokenGone(error);
      }
    }
    throw error;
  }
  const text = await response.text();
  if (raw) return { text, response };
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError({ status: response.status, code: `HTTP ${response.status}`, message: t('error.notJson') });
    }
  }
  return { data, response };
}

export const get = async (path, query) => (await request('GET', path, { query })).data;
export const post = async (path, body) => (await request('POST', path, { body })).data;
export const put = async (path, body) => (await request('PUT', path, { body })).data;
export const del = async (path, body) => (await request('DELETE', path, { body })).data;

export async function signIn({ user, password, domain, project }) {
  const body = {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: user, password, domain: { name: domain } } },
      },
      scope: { project: { name: project } },
    },
  };
  const { data, response } = await request('POST', '/v3/auth/tokens', { body, token: null });
  const token = response.headers.get('X-Subject-Token');
  if (!token || !data || !data.token) {
    throw new ApiError({ status: response.status, code: `HTTP ${response.status}`, message: t('error.noToken') });
  }
  const session = {
    token,
    expiresAt: data.token.expires_at,
    project: { id: data.token.project.id, name: data.token.project.name },
    user: { name: data.token.user.name, domain: (data.token.user.domain || {}).name || domain },
    roles: (data.token.roles || []).map((r) => r.name),
  };
  auth.save(session);
  return session;
}

// Sign out on the server too: the token is revoked there, so a copy of it (a stolen one, another
// tab's) stops working at once. The page forgets it whatever the answer.
export async function signOut() {
  const session = auth.load();
  auth.clear();
  if (!session) return;
  try {
    await fetch('/v3/auth/tokens', {
      method: 'DELETE',
      headers: { 'X-Auth-Token': session.token, 'X-Subject-Token': session.token, 'X-Language': apiLanguage() },
      credentials: 'same-origin',
    });
  } catch {
    // offline: the token still expires on its own
  }
}

// --- paths --------------------------------------------------------------------------------------
const enc = encodeURIComponent;
export const paths = {
  permissions: (p) => `/v3/${enc(p)}/permissions`,
  instances: (p) => `/v3/${enc(p)}/instances`,
  node: (p, i, n) => `/v3/${enc(p)}/instances/${enc(i)}/nodes/${enc(n)}`,
  processes: (p, i, n) => `${paths.node(p, i, n)}/processes`,
  kill: (p, i, n) => `${paths.node(p, i, n)}/processes/kill`,
  killByFilter: (p, i, n) => `${paths.node(p, i, n)}/processes/kill-by-filter`,
  lockWait: (p, i, n) => `${paths.node(p, i, n)}/process/lock-wait`,
  createTask: (p, i, n) => `${paths.node(p, i, n)}/kill-tasks`,
  tasks: (p) => `/v3/${enc(p)}/kill-tasks`,
  task: (p, id) => `/v3/${enc(p)}/kill-tasks/${enc(id)}`,
  stopTask: (p, id) => `/v3/${enc(p)}/kill-tasks/${enc(id)}/stop`,
  audit: (p) => `/v3/${enc(p)}/audit-events`,
  instance: (p, i) => `/v3/${enc(p)}/instances/${enc(i)}`,
  intelligentStatistic: (p, i) => `${paths.instance(p, i)}/intelligent-kill-session/statistic`,
  intelligentExecute: (p, i) => `${paths.instance(p, i)}/intelligent-kill-session`,
  intelligentHistory: (p, i) => `${paths.instance(p, i)}/intelligent-kill-session/history`,
  autoTasks: (p, i) => `${paths.instance(p, i)}/process/task`,
  autoSwitch: (p, i) => `${paths.instance(p, i)}/process/task/switch`,
  killAll: (p, i) => `${paths.instance(p, i)}/all/process`,
  killHistory: (p, i) => `${paths.instance(p, i)}/process/kill/history`,
  // DAS's operations (an instance's sessions as a registered database user)
  dbUsers: (p, i) => `/v3/${enc(p)}/instances/${enc(i)}/db-users`,
  dbUser: (p, i, id) => `${paths.dbUsers(p, i)}/${enc(id)}`,
  dasProcesses: (p, i) => `/v3/${enc(p)}/instances/${enc(i)}/processes`,
  dasKill: (p, i) => `/v3/${enc(p)}/instances/${enc(i)}/process`,
  sqlLimiting: (p, i) => `${paths.instance(p, i)}/auto-sql-limiting`,
  sqlLimitingNode: (p, i, n) => `${paths.node(p, i, n)}/auto-sql-limiting`,
  sqlLimitingLog: (p, i, n) => `${paths.node(p, i, n)}/auto-sql-limiting/log`,
};
