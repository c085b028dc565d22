// Shared harness of the headless-browser tests (run by scripts/browser.sh with `node --test`).
//
//   import { backends, startServer, launchBrowser, newPhonePage, newDesktopPage, signIn, shot } from './harness.mjs';
//
//   for (const backend of backends()) {
//     test(`a customer books a helper (${backend})`, async (t) => {
//       const server = await startServer({ backend });      // fresh data dir + database, demo city
//       t.after(() => server.stop());
//       const browser = await launchBrowser();
//       t.after(() => browser.close());
//       const page = await newPhonePage(browser, { server, test: 'booking' });
//       await signIn(page, 'customer1@demo.quartier.ch');
//       await shot(page, 'signed-in');   // target/screenshots/<backend>/booking/01-signed-in.png
//     });
//   }
//
// Every server gets its own data directory (and, for PostgreSQL, its own database on the server
// of QUARTIER_TEST_PG_URL, dropped afterwards), `quartier seed --demo`, then `quartier serve` on
// a free port. Mail goes to the SMTP sink of scripts/test-services.sh when it runs, else to
// .eml files in the data directory. Pages record console errors, uncaught exceptions and CSP
// violations in `page.problems`; `expectNoProblems(page)` fails a test that has any.

import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = process.env.QUARTIER_BIN || join(ROOT, 'target', 'debug', 'quartier');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SCREENSHOTS = process.env.QUARTIER_SCREENSHOTS || join(ROOT, 'target', 'screenshots');
export const DEMO_PASSWORD = 'quartier-demo';
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

/** The backends to test on: SQLite always, PostgreSQL when QUARTIER_TEST_PG_URL is set. */
export function backends() {
  const only = process.env.QUARTIER_BROWSER_BACKENDS; // e.g. "sqlite" while developing
  const all = ['sqlite', ...(process.env.QUARTIER_TEST_PG_URL ? ['postgres'] : [])];
  return only ? all.filter((b) => only.split(',').includes(b)) : all;
}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

function run(cmd, args, env) {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`))));
  });
}

async function pgClient(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/**
 * Starts a Quartier server with the demo city on a fresh database.
 * `settings` adds or overrides QUARTIER_* settings (e.g. {min_notice_minutes: 0}).
 * Returns {url, backend, dataDir, databaseUrl, log(), stop()}.
 */
export async function startServer({ backend = 'sqlite', settings = {}, helpers } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'quartier-browser-'));
  const port = await freePort();
  let databaseUrl = `sqlite://${join(dataDir, 'quartier.db')}`;
  let dropDb = null;
  if (backend === 'postgres') {
    const admin = process.env.QUARTIER_TEST_PG_URL;
    assert.ok(admin, 'QUARTIER_TEST_PG_URL is not set (run through scripts/test-services.sh)');
    const name = `quartier_browser_${randomUUID().replaceAll('-', '')}`;
    const client = await pgClient(admin);
    await client.query(`CREATE DATABASE ${name}`);
    await client.end();
    databaseUrl = `${admin.slice(0, admin.lastIndexOf('/'))}/${name}`;
    dropDb = async () => {
      const c = await pgClient(admin);
      try { await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } finally { await c.end(); }
    };
  }
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    QUARTIER_HOST: '127.0.0.1',
    QUARTIER_PORT: String(port),
    QUARTIER_DATA_DIR: dataDir,
    QUARTIER_DATABASE_URL: databaseUrl,
    QUARTIER_LOG_LEVEL: 'warn',
    // Cheap password hashing: the tests sign in often.
    QUARTIER_PASSWORD_MEMORY_KIB: '1024',
    QUARTIER_PASSWORD_ITERATIONS: '1',
    QUARTIER_LOGIN_ATTEMPTS_PER_ADDRESS: '1000',
  };
  if (process.env.QUARTIER_TEST_SMTP_HOST && process.env.QUARTIER_TEST_SMTP_PORT) {
    env.QUARTIER_SMTP_URL = `smtp://${process.env.QUARTIER_TEST_SMTP_HOST}:${process.env.QUARTIER_TEST_SMTP_PORT}`;
  }
  for (const [k, v] of Object.entries(settings)) env[`QUARTIER_${k.toUpperCase()}`] = String(v);

  const seedArgs = ['seed', '--demo', ...(helpers ? ['--helpers', String(helpers)] : [])];
  await run(BIN, seedArgs, env);

  const child = spawn(BIN, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((ok) => child.on('exit', ok));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`quartier serve exited ${child.exitCode}:\n${log}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`quartier serve not ready after 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  let stopped = false;
  return {
    url,
    backend,
    dataDir,
    databaseUrl,
    log: () => log,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      if (dropDb) await dropDb().catch((e) => console.error(`could not drop the test database: ${e.message}`));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Headless Debian Chromium (never a downloaded browser). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

const pageInfo = new WeakMap(); // page -> {server, dir}
const counters = new Map(); // screenshot dir -> last step number

async function newPage(browser, { server, test, viewport, mobile, locale = 'de-CH' }) {
  assert.ok(server?.url, 'newPage needs {server}');
  assert.ok(test, 'newPage needs {test}: the folder name of its screenshots');
  const context = await browser.newContext({
    baseURL: server.url,
    viewport,
    deviceScaleFactor: mobile ? 2 : 1,
    isMobile: mobile,
    hasTouch: mobile,
    locale,
    timezoneId: 'Europe/Zurich',
    colorScheme: 'light',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    // A failed request shows as a response below (a 404 is often expected: "no dispute yet").
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) page.problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 500) page.problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  // Say where a CSP violation comes from (the console message does not).
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP ${e.violatedDirective} at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber} (${e.sample || e.blockedURI})`);
    });
  });
  const dir = join(SCREENSHOTS, server.backend, test);
  pageInfo.set(page, { server, dir });
  return page;
}

/** A phone-size page (390x844, touch) in its own browser context. */
export const newPhonePage = (browser, opts) => newPage(browser, { ...opts, viewport: PHONE, mobile: true });

/** A desktop-size page (1280x800) in its own browser context. */
export const newDesktopPage = (browser, opts) => newPage(browser, { ...opts, viewport: DESKTOP, mobile: false });

/**
 * Signs `email` in through the API and stores the tokens the way web/common.js does, then opens
 * `path` (default: the page's current path, or /). Returns the user (GET /v1/me).
 */
export async function signIn(page, email, { password = DEMO_PASSWORD, path } = {}) {
  const { server } = pageInfo.get(page);
  if (page.url() === 'about:blank') await page.goto(`${server.url}/`);
  const me = await page.evaluate(async ({ email, password }) => {
    const res = await fetch('/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    if (!res.ok) throw new Error(`login ${email}: HTTP ${res.status} ${await res.text()}`);
    const tokens = await res.json();
    localStorage.setItem('quartier.access_token', tokens.access_token);
    localStorage.setItem('quartier.refresh_token', tokens.refresh_token);
    const me = await fetch('/v1/me', { headers: { Authorization: `Bearer ${tokens.access_token}` } });
    return me.json();
  }, { email, password });
  const target = path ?? (new URL(page.url()).pathname + new URL(page.url()).hash);
  await page.goto('about:blank');
  await page.goto(`${server.url}${target}`);
  return me;
}

/** Calls the API as the page's signed-in user (for setting up what a test does not click through). */
export function apiAs(page, path, { method = 'GET', body } = {}) {
  return page.evaluate(async ({ path, method, body }) => {
    const headers = { Accept: 'application/json' };
    const token = localStorage.getItem('quartier.access_token');
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }, { path, method, body });
}

/** Writes target/screenshots/<backend>/<test>/NN-<name>.png (numbered across the test's pages). */
export async function shot(page, name, { fullPage = true } = {}) {
  const info = pageInfo.get(page);
  assert.ok(info, 'shot() needs a page from newPhonePage/newDesktopPage');
  await mkdir(info.dir, { recursive: true });
  const n = (counters.get(info.dir) ?? 0) + 1;
  counters.set(info.dir, n);
  const file = join(info.dir, `${String(n).padStart(2, '0')}-${name.replace(/[^a-z0-9-]+/gi, '-')}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

/** Clears the screenshots of a test (call at its start so old steps do not linger). */
export async function clearShots(backend, test) {
  const dir = join(SCREENSHOTS, backend, test);
  await rm(dir, { recursive: true, force: true });
  counters.delete(dir);
}

/** Fails when the page scrolls sideways (its content is wider than the window). */
export async function expectNoHorizontalScroll(page, where = '') {
  const { scroll, client, culprit } = await page.evaluate(() => {
    const el = document.scrollingElement || document.documentElement;
    let culprit = null;
    if (el.scrollWidth > el.clientWidth) {
      const wide = [...document.querySelectorAll('body *')].find((n) => n.getBoundingClientRect().right > el.clientWidth + 1);
      culprit = wide ? `${wide.tagName.toLowerCase()}${wide.id ? `#${wide.id}` : ''}.${[...wide.classList].join('.')}` : null;
    }
    return { scroll: el.scrollWidth, client: el.clientWidth, culprit };
  });
  assert.ok(scroll <= client, `${where}: the page scrolls horizontally (${scroll}px content in ${client}px; e.g. ${culprit})`);
}

/** Fails when the page logged errors, threw, or broke its Content-Security-Policy. */
export function expectNoProblems(page) {
  assert.deepEqual(page.problems, [], 'the page reported problems');
}

/** Zurich wall time `YYYY-MM-DDTHH:MM` of the next weekday `day` (1 = Monday, 7 = Sunday) at hh:mm, at least `minDays` ahead. */
export function nextZurich(day, hh, mm = 0, minDays = 1) {
  const now = new Date();
  for (let add = minDays; add < minDays + 8; add += 1) {
    const d = new Date(now.getTime() + add * 86_400_000);
    const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
      timeZone: 'Europe/Zurich', weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit',
    }).formatToParts(d).map((p) => [p.type, p.value]));
    const wd = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts.weekday);
    if (wd === day % 7) return `${parts.year}-${parts.month}-${parts.day}T${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}`;
  }
  throw new Error('unreachable');
}

/**
 * A signed-in API client on the Node side (for the other party of a test: a helper accepting,
 * an operator deciding). `call(path, {method, body})` returns the parsed JSON, throws on >= 400.
 */
export async function client(server, email, { password = DEMO_PASSWORD } = {}) {
  const res = await fetch(`${server.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new Error(`login ${email}: HTTP ${res.status} ${await res.text()}`);
  const { access_token: token } = await res.json();
  const call = async (path, { method = 'GET', body } = {}) => {
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method === 'POST') headers['Idempotency-Key'] = randomUUID();
    const r = await fetch(`${server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} as ${email}: HTTP ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const me = await call('/v1/me');
  return { token, me, call };
}

/** The demo e-mail of the helper with this id (demo helpers are helper001 ... helper200). */
export async function demoHelperEmail(server, helperId, count = 200) {
  for (let i = 1; i <= count; i += 1) {
    const email = `helper${String(i).padStart(3, '0')}@demo.quartier.ch`;
    const c = await client(server, email);
    if (c.me.id === helperId) return email;
  }
  throw new Error(`no demo helper has id ${helperId}`);
}
