// Client of the public API: same-origin relative paths, bearer tokens, problem+json errors.
// Refresh tokens rotate on every use and a reused one revokes the whole family, so a refresh
// must never run twice with the same token: within a tab every refresh goes through one shared
// promise, and across tabs (which share the session in localStorage) through a Web Lock, inside
// which a tab first adopts a pair another tab has already rotated to.

export type Role = 'USER' | 'OPERATOR' | 'AUDITOR' | 'ADMIN';
export const STAFF_ROLES: Role[] = ['OPERATOR', 'AUDITOR', 'ADMIN'];

export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresAt: number; // epoch ms
  userId: string;
  roles: Role[];
  email?: string;
}

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  status: number;
  code: string;
  detail: string;
  fields: FieldError[];
  body: unknown;
  constructor(status: number, body: any, fallback: string) {
    const detail = (body && (body.detail || body.title)) || fallback;
    super(detail);
    this.status = status;
    this.code = (body && body.code) || `HTTP_${status}`;
    this.detail = detail;
    this.body = body;
    const fields: FieldError[] = [];
    if (body && Array.isArray(body.errors)) {
      for (const e of body.errors) {
        if (e && typeof e.field === 'string') fields.push({ field: e.field, message: String(e.message ?? '') });
      }
    } else if (body && typeof body.field === 'string') {
      fields.push({ field: body.field, message: detail });
    }
    this.fields = fields;
  }
  /** Message for a field path, also matching a parent path (e.g. `rewards` for `rewards[0]`). */
  forField(field: string): string | undefined {
    return this.fields.find((f) => f.field === field)?.message;
  }
}

const STORE_KEY = 'liveops.console.session';
type Listener = (s: Session | null) => void;
const listeners = new Set<Listener>();
let session: Session | null = load();
let refreshing: Promise<Session | null> | null = null;
let refreshTimer: number | undefined;
/** Why the last session ended without the user signing out (shown on the sign-in page). */
export let endedReason: string | null = null;

function load(): Session | null {
  try {
    const raw = localStorage.getItem(STORE_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

function store(s: Session | null) {
  session = s;
  try {
    if (s) localStorage.setItem(STORE_KEY, JSON.stringify(s));
    else localStorage.removeItem(STORE_KEY);
  } catch {
    /* private mode: keep the session in memory only */
  }
  scheduleRefresh();
  listeners.forEach((l) => l(s));
}

// Another tab signed in, refreshed or signed out: follow it (the storage event fires only in
// the other tabs, so this never loops).
window.addEventListener('storage', (e) => {
  if (e.key !== STORE_KEY && e.key !== null) return;
  session = load();
  scheduleRefresh();
  listeners.forEach((l) => l(session));
});

export function getSession() {
  return session;
}

export function onSession(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function decodeJwt(token: string): Record<string, any> {
  const part = token.split('.')[1] ?? '';
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const json = decodeURIComponent(
    atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))
      .split('')
      .map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'))
      .join(''),
  );
  return JSON.parse(json);
}

function fromTokens(t: any, email?: string): Session {
  const claims = decodeJwt(t.accessToken);
  const expiresAt = claims.exp ? claims.exp * 1000 : Date.now() + (t.expiresIn ?? 900) * 1000;
  return {
    accessToken: t.accessToken,
    refreshToken: t.refreshToken,
    expiresAt,
    userId: String(claims.sub),
    roles: (claims.roles ?? []) as Role[],
    email,
  };
}

export const isStaff = (roles: Role[]) => roles.some((r) => STAFF_ROLES.includes(r));
export const canWrite = (s: Session | null) => !!s && s.roles.some((r) => r === 'OPERATOR' || r === 'ADMIN');
export const isAdmin = (s: Session | null) => !!s && s.roles.includes('ADMIN');

function scheduleRefresh() {
  if (refreshTimer !== undefined) window.clearTimeout(refreshTimer);
  refreshTimer = undefined;
  if (!session) return;
  // Refresh a minute before expiry (or at half-life for very short tokens).
  const left = session.expiresAt - Date.now();
  const lead = Math.min(60_000, left / 2);
  refreshTimer = window.setTimeout(() => void refresh(), Math.max(1_000, left - lead));
}

async function parseBody(res: Response): Promise<any> {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class NoAccessError extends Error {}

export async function login(email: string, password: string): Promise<Session> {
  const res = await fetch('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const body = await parseBody(res);
  if (!res.ok) throw new ApiError(res.status, body, `sign-in failed (${res.status})`);
  const s = fromTokens(body, email);
  if (!isStaff(s.roles)) {
    // Do not keep a session the console cannot use: revoke it right away.
    await fetch('/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${s.accessToken}` } }).catch(
      () => undefined,
    );
    throw new NoAccessError('This account has no staff role (OPERATOR, AUDITOR or ADMIN), so it has no access to the console.');
  }
  endedReason = null;
  store(s);
  return s;
}

export async function logout() {
  const s = session;
  endedReason = null;
  store(null);
  if (s) {
    await fetch('/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${s.accessToken}` } }).catch(
      () => undefined,
    );
  }
}

export function refresh(): Promise<Session | null> {
  if (refreshing) return refreshing;
  const current = session;
  if (!current) return Promise.resolve(null);
  const run = async (): Promise<Session | null> => {
    const stored = load();
    if (!stored) {
      store(null);
      return null;
    }
    if (stored.refreshToken !== current.refreshToken) {
      // Another tab rotated the pair while this one waited for the lock.
      store(stored);
      return stored;
    }
    try {
      const res = await fetch('/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: current.refreshToken }),
      });
      if (!res.ok) {
        // Only drop the session on a definitive refusal, not on a network blip or 5xx.
        if (res.status === 400 || res.status === 401 || res.status === 403) {
          endedReason = 'Your session ended (it expired or was revoked, for example by a role change). Sign in again.';
          store(null);
        }
        return session;
      }
      const s = fromTokens(await res.json(), current.email);
      store(s);
      return s;
    } catch {
      return session;
    }
  };
  const locks = (navigator as any).locks;
  const p: Promise<Session | null> = locks ? locks.request('liveops-console-refresh', run) : run();
  refreshing = p.finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function authHeader(): Promise<string | null> {
  let s = session;
  if (s && s.expiresAt - Date.now() < 15_000) s = await refresh();
  return s ? `Bearer ${s.accessToken}` : null;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  raw?: boolean;
}

/** Authorized fetch that refreshes the token once on 401 and retries. */
export async function authFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const go = async () => {
    const headers = new Headers(init.headers);
    const auth = await authHeader();
    if (auth) headers.set('authorization', auth);
    return fetch(path, { ...init, headers });
  };
  let res = await go();
  if (res.status === 401 && session) {
    const before = session.accessToken;
    const s = await refresh();
    if (s && s.accessToken !== before) res = await go();
    else if (res.status === 401) {
      endedReason = 'Your session is no longer valid. Sign in again.';
      store(null);
    }
  }
  return res;
}

export interface Response2<T> {
  data: T;
  status: number;
  headers: Headers;
}

export async function request<T = any>(
  method: string,
  path: string,
  body?: unknown,
  opts: RequestOptions = {},
): Promise<Response2<T>> {
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...opts.headers };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await authFetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: opts.signal,
  });
  const data = await parseBody(res);
  if (!res.ok) throw new ApiError(res.status, data, `${method} ${path} answered ${res.status}`);
  return { data: data as T, status: res.status, headers: res.headers };
}

export const get = <T = any>(path: string, opts?: RequestOptions) =>
  request<T>('GET', path, undefined, opts).then((r) => r.data);
export const post = <T = any>(path: string, body?: unknown, opts?: RequestOptions) =>
  request<T>('POST', path, body ?? {}, opts).then((r) => r.data);
export const patch = <T = any>(path: string, body: unknown, opts?: RequestOptions) =>
  request<T>('PATCH', path, body, opts).then((r) => r.data);
export const del = <T = any>(path: string, body?: unknown) => request<T>('DELETE', path, body).then((r) => r.data);

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

/** Fetch up to `maxPages` pages and return every item plus whether more were left. */
export async function collect<T>(path: string, params: Record<string, any>, maxPages = 10) {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < maxPages; i++) {
    const page: Page<T> = await get<Page<T>>(path + qs({ ...params, limit: 100, cursor }));
    items.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) return { items, more: false };
  }
  return { items, more: true };
}

export function newIdempotencyKey(): string {
  // randomUUID needs a secure context; a plain-HTTP staging host is not one.
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
