// Shared by every Quartier page: the API client (tokens, refresh, idempotency keys, problem+json
// errors), DOM building, Swiss formatting of money and times, and the language switch.
// Vanilla ES module, no dependencies.

const store = window.localStorage;
const ACCESS = 'quartier.access_token';
const REFRESH = 'quartier.refresh_token';
const LANG = 'quartier.lang';
export const LANGS = ['de', 'fr', 'it', 'en'];
export const ZONE = 'Europe/Zurich';

/* ---------- DOM ---------- */

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// h('button', {type: 'button', onclick: fn}, 'Label'): attributes, `on*` listeners, children.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, v);
  }
  node.append(...children.flat().filter((c) => c != null && c !== false));
  return node;
}

/* ---------- languages ---------- */

const dictionaries = { de: {}, fr: {}, it: {}, en: {} };

// Each page registers its strings: {en: {key: 'text'}, de: {...}, ...}. English is the fallback.
export function addStrings(table) {
  for (const lang of LANGS) Object.assign(dictionaries[lang], table[lang] || {});
}

export function lang() {
  const saved = store.getItem(LANG);
  if (LANGS.includes(saved)) return saved;
  const nav = (navigator.language || 'en').slice(0, 2);
  return LANGS.includes(nav) ? nav : 'en';
}

// t('key', {n: 3}) → the text in the current language with {n} replaced.
export function t(key, vars = {}) {
  const text = dictionaries[lang()][key] ?? dictionaries.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? `{${name}}`));
}

// Fills every [data-i18n] element's text (and [data-i18n-label] aria-label, [data-i18n-placeholder]).
export function translatePage(root = document) {
  document.documentElement.lang = lang();
  for (const el of $$('[data-i18n]', root)) el.textContent = t(el.dataset.i18n);
  for (const el of $$('[data-i18n-label]', root)) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of $$('[data-i18n-placeholder]', root)) el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
}

const langListeners = [];
export function onLangChange(fn) { langListeners.push(fn); }

export function setLang(value) {
  if (!LANGS.includes(value)) return;
  store.setItem(LANG, value);
  translatePage();
  for (const fn of langListeners) fn(value);
}

// A labelled <select> that switches and remembers the language.
export function langSwitch() {
  const names = { de: 'Deutsch', fr: 'Français', it: 'Italiano', en: 'English' };
  const select = h('select', { id: 'lang-switch', name: 'lang', 'aria-label': 'Language / Sprache / Langue / Lingua' },
    ...LANGS.map((l) => h('option', { value: l, lang: l }, names[l])));
  select.value = lang();
  select.addEventListener('change', () => setLang(select.value));
  return select;
}

/* ---------- formatting (Swiss) ---------- */

const locales = { de: 'de-CH', fr: 'fr-CH', it: 'it-CH', en: 'en-CH' };
export const locale = () => locales[lang()];

// {amount_rappen, currency} → "CHF 49.00" the Swiss way (apostrophe thousands separator).
export function formatMoney(m) {
  if (!m || typeof m.amount_rappen !== 'number') return '';
  return new Intl.NumberFormat('de-CH', { style: 'currency', currency: m.currency || 'CHF' }).format(m.amount_rappen / 100);
}

export function formatDateTime(iso, opts = { dateStyle: 'medium', timeStyle: 'short' }) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(locale(), { ...opts, timeZone: ZONE }).format(new Date(iso));
}
export const formatDate = (iso) => formatDateTime(iso, { weekday: 'short', day: 'numeric', month: 'short' });
export const formatTime = (iso) => formatDateTime(iso, { hour: '2-digit', minute: '2-digit' });

// A <input type=datetime-local> value (Zurich wall time) → RFC 3339 with the Zurich offset.
export function zurichToIso(local) {
  const [date, time] = local.split('T');
  const [y, mo, d] = date.split('-').map(Number);
  const [hh, mm] = time.split(':').map(Number);
  // Guess the offset, then correct it once (handles both CET and CEST).
  let utc = Date.UTC(y, mo - 1, d, hh, mm);
  for (let i = 0; i < 2; i += 1) {
    const shown = new Intl.DateTimeFormat('en-US', {
      timeZone: ZONE, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric',
    }).formatToParts(new Date(utc)).reduce((a, p) => ({ ...a, [p.type]: Number(p.value) }), {});
    const asUtc = Date.UTC(shown.year, shown.month - 1, shown.day, shown.hour, shown.minute);
    utc -= asUtc - Date.UTC(y, mo - 1, d, hh, mm);
  }
  return new Date(utc).toISOString();
}

/* ---------- API client ---------- */

export class ApiError extends Error {
  constructor(message, status, code, problem = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.problem = problem;
  }
}

function retryAfterSeconds(value) {
  if (!value) return null;
  const n = Number(value);
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n));
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

async function toApiError(res) {
  let problem = {};
  try { problem = (await res.json()) || {}; } catch { /* not JSON */ }
  if (res.status === 429) {
    const secs = retryAfterSeconds(res.headers.get('Retry-After'));
    const msg = secs == null ? 'Too many attempts, try again later.' : `Too many attempts, try again in ${secs} seconds.`;
    return new ApiError(msg, 429, problem.code, problem);
  }
  const msg = problem.detail || problem.title || `Request failed (HTTP ${res.status}).`;
  return new ApiError(msg, res.status, problem.code, problem);
}

export const accessToken = () => store.getItem(ACCESS);
export function saveTokens(tokens) {
  store.setItem(ACCESS, tokens.access_token);
  if (tokens.refresh_token) store.setItem(REFRESH, tokens.refresh_token);
}
export function clearTokens() { store.removeItem(ACCESS); store.removeItem(REFRESH); }
export const signedIn = () => Boolean(store.getItem(ACCESS));

let refreshing = null;
function refreshTokens() {
  // One in-flight refresh shared by concurrent callers (refresh tokens rotate).
  refreshing ??= (async () => {
    const refresh_token = store.getItem(REFRESH);
    if (!refresh_token) return false;
    try {
      const res = await fetch('/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ refresh_token }),
      });
      if (!res.ok) { if (res.status < 500 && res.status !== 429) clearTokens(); return false; }
      saveTokens(await res.json());
      return true;
    } catch { return false; }
  })().finally(() => { refreshing = null; });
  return refreshing;
}

// api('/v1/bookings', {method: 'POST', body: {...}}). Signed-in calls carry the access token and
// refresh it once on 401; every POST carries a fresh Idempotency-Key (kept across that retry).
// `raw: true` returns the Response (for files); `form` sends a File/Blob as the body with its own
// Content-Type (photo uploads).
export async function api(path, { method = 'GET', body, form, raw = false, retry = true, key } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (form instanceof Blob) headers['Content-Type'] = form.type || 'application/octet-stream';
  const token = store.getItem(ACCESS);
  if (token) headers.Authorization = `Bearer ${token}`;
  const idem = key ?? (method === 'POST' ? crypto.randomUUID() : undefined);
  if (idem) headers['Idempotency-Key'] = idem;
  const res = await fetch(path, { method, headers, body: form ?? (body === undefined ? undefined : JSON.stringify(body)) });
  if (res.status === 401 && token && retry && (await refreshTokens())) {
    return api(path, { method, body, form, raw, retry: false, key: idem });
  }
  if (!res.ok) throw await toApiError(res);
  if (raw) return res;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export async function login(email, password) {
  const tokens = await api('/v1/auth/login', { method: 'POST', body: { email, password } });
  saveTokens(tokens);
  return api('/v1/me');
}

export async function logout() {
  const refresh_token = store.getItem(REFRESH);
  try { await api('/v1/auth/logout', { method: 'POST', body: { refresh_token } }); } catch { /* sign out locally anyway */ }
  clearTokens();
}

// A human sentence for any error thrown by api() or fetch().
export function messageOf(err) {
  if (err instanceof ApiError) return err.message;
  if (err instanceof TypeError) return t('error.offline');
  return t('error.generic');
}

// Server-sent events with the access token (EventSource cannot send headers, so this reads the
// stream with fetch) and Last-Event-ID resume. Calls onEvent({type, id, data}) and reconnects.
export function stream(onEvent, { signal } = {}) {
  let last = null;
  (async function loop() {
    while (!signal?.aborted) {
      try {
        const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${store.getItem(ACCESS)}` };
        if (last) headers['Last-Event-ID'] = last;
        const res = await fetch('/v1/stream', { headers, signal });
        if (res.status === 401 && (await refreshTokens())) continue;
        if (!res.ok || !res.body) throw new Error(`stream ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const chunk = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const ev = { type: 'message', id: null, data: '' };
            for (const line of chunk.split('\n')) {
              const i = line.indexOf(':');
              if (i <= 0) continue;
              const field = line.slice(0, i);
              const val = line.slice(i + 1).replace(/^ /, '');
              if (field === 'event') ev.type = val;
              else if (field === 'id') ev.id = val;
              else if (field === 'data') ev.data += (ev.data ? '\n' : '') + val;
            }
            if (ev.id) last = ev.id;
            if (ev.data) {
              try { ev.data = JSON.parse(ev.data); } catch { /* keep text */ }
              onEvent(ev);
            }
          }
        }
      } catch { /* reconnect below */ }
      if (signal?.aborted) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
}

addStrings({
  en: { 'error.offline': 'Could not reach the server. Check your connection and try again.', 'error.generic': 'Something went wrong. Please try again.' },
  de: { 'error.offline': 'Der Server ist nicht erreichbar. Prüfen Sie die Verbindung und versuchen Sie es erneut.', 'error.generic': 'Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.' },
  fr: { 'error.offline': 'Le serveur est injoignable. Vérifiez la connexion et réessayez.', 'error.generic': 'Une erreur est survenue. Veuillez réessayer.' },
  it: { 'error.offline': 'Il server non è raggiungibile. Controlla la connessione e riprova.', 'error.generic': 'Qualcosa è andato storto. Riprova.' },
});
