// Quartier front page: catalogue, sign-in, registration. Vanilla JS, no dependencies.
const $ = (sel) => document.querySelector(sel);
const store = window.sessionStorage;
const ACCESS = 'quartier.access_token';
const REFRESH = 'quartier.refresh_token';

const els = {
  error: $('#error'), catalog: $('#catalog'), catalogStatus: $('#catalog-status'),
  session: $('#session'), whoami: $('#whoami'), logout: $('#logout'), auth: $('#auth'),
  loginForm: $('#login-form'), registerForm: $('#register-form'),
  tabs: [$('#show-login'), $('#show-register')],
};

/* ---------- helpers ---------- */

class ApiError extends Error {
  constructor(message, status, code) { super(message); this.status = status; this.code = code; }
}

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children.filter((c) => c != null));
  return node;
}

const moneyFormats = new Map();
function formatMoney(m) {
  if (!m || typeof m.amount_rappen !== 'number') return '';
  const currency = m.currency || 'CHF';
  if (!moneyFormats.has(currency)) {
    moneyFormats.set(currency, new Intl.NumberFormat('de-CH', { style: 'currency', currency }));
  }
  return moneyFormats.get(currency).format(m.amount_rappen / 100);
}

function showError(message) { els.error.textContent = message || ''; }

function messageOf(err) {
  if (err instanceof ApiError) return err.message;
  if (err instanceof TypeError) return 'Could not reach the server. Check your connection and try again.';
  return 'Something went wrong. Please try again.';
}

/* ---------- API client ---------- */

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
    const msg = secs == null ? 'Too many attempts, try again later.' : `Too many attempts, try again in ${secs} seconds`;
    return new ApiError(msg, 429, problem.code);
  }
  const msg = problem.detail || problem.title || `Request failed (HTTP ${res.status}).`;
  return new ApiError(msg, res.status, problem.code);
}

function saveTokens(t) {
  store.setItem(ACCESS, t.access_token);
  if (t.refresh_token) store.setItem(REFRESH, t.refresh_token);
}
function clearTokens() { store.removeItem(ACCESS); store.removeItem(REFRESH); }

let refreshing = null;
function refreshTokens() {
  // Share one in-flight refresh between concurrent callers.
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

// body may be a function so it is rebuilt on retry (e.g. after token rotation).
async function api(path, { method = 'GET', body, auth = false, retry = true } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  const payload = typeof body === 'function' ? body() : body;
  if (payload !== undefined) headers['Content-Type'] = 'application/json';
  const token = store.getItem(ACCESS);
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: payload === undefined ? undefined : JSON.stringify(payload) });
  if (res.status === 401 && auth && retry && (await refreshTokens())) {
    return api(path, { method, body, auth, retry: false });
  }
  if (!res.ok) throw await toApiError(res);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/* ---------- catalogue ---------- */

function serviceCard(item) {
  const facts = h('dl', { class: 'facts' },
    h('div', {}, h('dt', {}, 'Price'), h('dd', { class: 'price' }, formatMoney(item.base_price))),
    h('div', {}, h('dt', {}, 'Duration'), h('dd', { class: 'duration' }, `${item.duration_minutes} min`)),
    item.extra_unit_price
      ? h('div', {}, h('dt', {}, 'Each extra'), h('dd', { class: 'extra' }, formatMoney(item.extra_unit_price)))
      : null);
  return h('li', { class: 'service-card', 'data-slug': item.slug },
    item.skill ? h('span', { class: 'skill' }, item.skill) : null,
    h('h3', {}, item.name),
    h('p', {}, item.description || ''),
    facts);
}

async function loadCatalog() {
  try {
    const data = await api('/v1/catalog');
    const items = Array.isArray(data?.items) ? data.items : [];
    els.catalog.replaceChildren(...items.map(serviceCard));
    els.catalogStatus.textContent = items.length ? '' : 'No services available yet.';
    els.catalogStatus.hidden = items.length > 0;
  } catch (err) {
    els.catalogStatus.textContent = 'Services could not be loaded.';
    showError(messageOf(err));
  } finally {
    els.catalog.setAttribute('aria-busy', 'false');
  }
}

/* ---------- session ---------- */

function renderSignedIn(me) {
  els.whoami.textContent = `Signed in as ${me.name} (${me.role})`;
  els.session.hidden = false;
  els.auth.hidden = true;
}

function renderSignedOut() {
  els.whoami.textContent = '';
  els.session.hidden = true;
  els.auth.hidden = false;
}

async function loadMe() { renderSignedIn(await api('/v1/me', { auth: true })); }

async function signIn(email, password) {
  const tokens = await api('/v1/auth/login', { method: 'POST', body: { email, password } });
  saveTokens(tokens);
  await loadMe();
  els.loginForm.reset();
  els.registerForm.reset();
  els.whoami.focus();
}

async function signOut() {
  showError('');
  els.logout.disabled = true;
  const body = () => ({ refresh_token: store.getItem(REFRESH) });
  try { await api('/v1/auth/logout', { method: 'POST', auth: true, body }); } catch { /* sign out locally regardless */ }
  clearTokens();
  els.logout.disabled = false;
  renderSignedOut();
  selectTab(0, true);
}

/* ---------- forms & tabs ---------- */

function selectTab(index, focus = false) {
  els.tabs.forEach((tab, i) => {
    const on = i === index;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    document.getElementById(tab.getAttribute('aria-controls')).hidden = !on;
  });
  if (focus) els.tabs[index].focus();
}

els.tabs.forEach((tab, i) => {
  tab.addEventListener('click', () => { showError(''); selectTab(i); });
  tab.addEventListener('keydown', (e) => {
    const n = els.tabs.length;
    const next = { ArrowRight: (i + 1) % n, ArrowLeft: (i - 1 + n) % n, Home: 0, End: n - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    selectTab(next, true);
  });
});

// Runs `action` with the form's submit button disabled; reports errors in #error.
function handleSubmit(form, action) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showError('');
    const invalid = [...form.elements].find((f) => f.willValidate && !f.checkValidity());
    form.querySelectorAll('input').forEach((f) => f.setAttribute('aria-invalid', String(!f.validity.valid)));
    if (invalid) {
      showError(invalid.name === 'password' && invalid.validity.tooShort
        ? 'Password must be at least 10 characters.'
        : `Please check the ${invalid.labels?.[0]?.textContent.toLowerCase() || invalid.name} field.`);
      invalid.focus();
      return;
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await action(Object.fromEntries(new FormData(form)));
    } catch (err) {
      showError(messageOf(err));
    } finally {
      button.disabled = false;
      form.setAttribute('aria-busy', 'false');
    }
  });
}

handleSubmit(els.loginForm, ({ email, password }) => signIn(email.trim(), password));

handleSubmit(els.registerForm, async ({ name, email, password, role, locale }) => {
  const user = { email: email.trim(), password, name: name.trim(), role, locale };
  await api('/v1/auth/register', { method: 'POST', body: user });
  await signIn(user.email, password);
});

els.logout.addEventListener('click', signOut);

/* ---------- start ---------- */

const lang = (navigator.language || 'en').slice(0, 2);
if (['de', 'fr', 'it', 'en'].includes(lang)) els.registerForm.elements.locale.value = lang;

loadCatalog();
if (store.getItem(ACCESS)) {
  loadMe().catch((err) => {
    if (err instanceof ApiError && err.status === 401) clearTokens();
    renderSignedOut();
  });
}
