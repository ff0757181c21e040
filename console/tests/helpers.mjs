// Shared by the browser tests: the platform's origin, API calls for set-up (accounts, player
// claims) and a headless Chromium that fails a test on any CSP violation or outside request.
import { chromium } from 'playwright-core';

const raw = process.env.CONSOLE_BASE_URL ?? 'http://127.0.0.1:3000';
export const ORIGIN = new URL(raw).origin;
export const CONSOLE_URL = `${ORIGIN}/console/`;
export const ADMIN_EMAIL = process.env.CONSOLE_ADMIN_EMAIL ?? process.env.BOOTSTRAP_ADMIN_EMAIL ?? 'admin@liveops.local';
export const ADMIN_PASSWORD = process.env.CONSOLE_ADMIN_PASSWORD ?? process.env.BOOTSTRAP_ADMIN_PASSWORD ?? '';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const RUN = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);

if (!ADMIN_PASSWORD) throw new Error('set CONSOLE_ADMIN_PASSWORD (or BOOTSTRAP_ADMIN_PASSWORD) to the bootstrap admin password');

export async function api(method, path, { token, body, headers = {} } = {}) {
  const h = { accept: 'application/json', ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  // Set-up calls ride out a service restart (502/503 from the gateway) instead of failing the suite.
  let res;
  for (let attempt = 0; ; attempt++) {
    res = await fetch(ORIGIN + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    if (![502, 503].includes(res.status) || attempt >= 5) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  return { status: res.status, data, headers: res.headers };
}

export async function login(email, password) {
  const r = await api('POST', '/auth/login', { body: { email, password } });
  if (r.status !== 200) throw new Error(`login ${email}: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data.accessToken;
}

let adminToken;
export async function admin() {
  adminToken ??= await login(ADMIN_EMAIL, ADMIN_PASSWORD);
  return adminToken;
}

/** A fresh account holding `roles`; returns {id, email, password, token}. */
export async function account(name, roles = ['USER']) {
  const email = `console-${name}-${RUN}@example.test`.toLowerCase();
  const password = `pw-${RUN}-${name}-secret`;
  const reg = await api('POST', '/auth/register', { body: { email, password, nickname: `${name}-${RUN}`.slice(0, 30) } });
  if (reg.status !== 201) throw new Error(`register ${email}: ${reg.status} ${JSON.stringify(reg.data)}`);
  if (roles.join() !== 'USER') {
    const r = await api('PATCH', `/users/${reg.data.id}/roles`, { token: await admin(), body: { roles } });
    if (r.status !== 200) throw new Error(`roles ${email}: ${r.status} ${JSON.stringify(r.data)}`);
  }
  return { id: reg.data.id, email, password, token: await login(email, password) };
}

export function iso(offsetMs) {
  return new Date(Date.now() + offsetMs).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** datetime-local value (UTC) for an offset from now. */
export function localInput(offsetMs) {
  return new Date(Date.now() + offsetMs).toISOString().slice(0, 16);
}

export async function createEvent(token, overrides = {}) {
  const body = {
    title: `api-event-${RUN}-${Math.random().toString(36).slice(2, 6)}`,
    startsAt: iso(-3_600_000),
    endsAt: iso(7 * 86_400_000),
    conditions: [],
    rewards: [{ type: 'POINT', quantity: 10 }],
    ...overrides,
  };
  const r = await api('POST', '/events', { token, body });
  if (r.status !== 201 && r.status !== 200) throw new Error(`create event: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

export async function activate(token, ev) {
  const r = await api('PATCH', `/events/${ev.id}`, { token, body: { status: 'ACTIVE', version: ev.version } });
  if (r.status !== 200) throw new Error(`activate: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

export async function claim(token, eventId) {
  const r = await api('POST', `/events/${eventId}/claims`, { token, headers: { prefer: 'wait=5' } });
  if (r.status !== 200 && r.status !== 202) throw new Error(`claim: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

/**
 * A browser for one test file (Playwright starts it on a fresh temporary profile). Each
 * `page()` is a tab in its own browser context, so its own storage and its own signed-in user;
 * `tab(page)` opens another tab beside one, sharing its session. Every page records CSP
 * violations, page errors and requests to any other origin; `assertClean()` fails on them.
 */
export async function browser() {
  const b = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  const watch = (page) => {
    page.on('console', (m) => {
      const t = m.text();
      if (/Content Security Policy|Refused to/i.test(t)) problems.push(`CSP: ${t}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(ORIGIN) && !u.startsWith('data:') && !u.startsWith('blob:') && !u.startsWith('about:')) problems.push(`outside request: ${u}`);
    });
  };
  return {
    problems,
    async page(width = 1280, height = 800) {
      const ctx = await b.newContext({ viewport: { width, height }, acceptDownloads: true });
      ctx.on('page', watch);
      return ctx.newPage();
    },
    async tab(page) {
      return page.context().newPage();
    },
    assertClean() {
      if (problems.length) throw new Error(problems.join('\n'));
    },
    async close() {
      await b.close();
    },
  };
}

export async function signIn(page, email, password) {
  await page.goto(CONSOLE_URL + '#/events');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export async function signedIn(page, who) {
  await signIn(page, who.email, who.password);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export async function go(page, hashPath) {
  await page.evaluate((h) => (window.location.hash = h), hashPath);
  await page.locator('main h1').first().waitFor();
}
