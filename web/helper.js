// Quartier for helpers: an installable phone app. Sign-in, live offers with one-tap accept, the
// day's jobs and the guided visit, hours, earnings and the profile with vetting. Hash routes:
// #offers, #jobs, #job/<id>, #schedule, #earnings, #progress, #profile. Vanilla ES modules, no build step.
import {
  $, $$, h, t, api, login, logout, signedIn, clearTokens, langSwitch, onLangChange, translatePage, lang,
  formatMoney, formatDate, formatTime, stream, ApiError,
} from './common.js';
import './helper-strings.js';
import {
  field, errorBox, showError, errorText, busy, toast, setOffline, isOffline, onOfflineChange, isNetworkError, isCode, stateName, zurichDate,
} from './helper-ui.js';
import { renderJob } from './helper-job.js';
import { renderProfile, loadApplication } from './helper-profile.js';
import { renderSchedule } from './helper-schedule.js';
import { renderProgress, checkLevelNotices, showLevelBanner } from './helper-progress.js';

const API_CACHE = 'quartier-helper-api';
const ME_KEY = 'quartier.helper.me'; // the signed-in helper, for starting without a connection
const ACTIVE = ['requested', 'accepted', 'confirmed', 'en_route', 'on_site'];

export const session = {
  me: null,
  application: undefined, // undefined: not loaded; null: never applied
  offers: new Map(), // id → {booking, status: 'open' | 'busy' | 'taken' | 'gone', error}
  abort: null,
  pollTimer: null,
};

const main = () => $('#main');

/* ---------- service worker ---------- */

function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  const mark = () => { if (navigator.serviceWorker.controller) document.body.dataset.sw = 'ready'; };
  navigator.serviceWorker.addEventListener('controllerchange', mark);
  mark();
  // Scope /helper: the service worker controls only the helper app, not the customer pages.
  navigator.serviceWorker.register('/sw.js', { scope: '/helper' }).catch(() => { /* offline use unavailable */ });
}

/* ---------- routing ---------- */

let currentView = null;

function parseHash() {
  const [name, arg] = location.hash.replace(/^#/, '').split('/');
  return { name: name || 'offers', arg: arg ? decodeURIComponent(arg) : null };
}

export function route({ keepFocus = false } = {}) {
  const root = main();
  if (!session.me) { renderAuth(root); return; }
  const { name, arg } = parseHash();
  currentView = { name, arg };
  for (const a of $$('#tabbar a')) {
    const on = a.dataset.tab === name || (name === 'job' && a.dataset.tab === 'jobs');
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const view = h('div', { class: 'view' });
  root.replaceChildren(view);
  const done = (() => {
    switch (name) {
      case 'job': return renderJob(view, arg);
      case 'jobs': return renderJobs(view);
      case 'schedule': return renderSchedule(view);
      case 'earnings': return renderEarnings(view);
      case 'progress': return renderProgress(view);
      case 'profile': return renderProfile(view);
      default: return renderOffers(view);
    }
  })();
  Promise.resolve(done).finally(() => {
    if (!keepFocus && view.isConnected) $('h1', view)?.focus({ preventScroll: false });
  });
}

export const currentRoute = () => currentView;

/* ---------- sign in / register ---------- */

function renderAuth(root, notice) {
  $('#tabbar').hidden = true;
  const err = errorBox();
  if (notice) err.textContent = notice;
  const loginForm = h('form', { class: 'form', id: 'login-form', role: 'tabpanel', 'aria-labelledby': 'tab-login', novalidate: true },
    field(t('auth.email'), { type: 'email', name: 'email', autocomplete: 'username', required: true }),
    field(t('auth.password'), { type: 'password', name: 'password', autocomplete: 'current-password', required: true }),
    h('button', { class: 'button block', type: 'submit' }, t('auth.signin')));
  const registerForm = h('form', { class: 'form', id: 'register-form', role: 'tabpanel', 'aria-labelledby': 'tab-register', novalidate: true, hidden: true },
    field(t('auth.name'), { type: 'text', name: 'name', autocomplete: 'name', required: true }),
    field(t('auth.email'), { type: 'email', name: 'email', autocomplete: 'email', required: true }),
    field(t('auth.password'), { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: 10 }, t('auth.password.hint')),
    h('button', { class: 'button block', type: 'submit' }, t('auth.register')));
  const tabLogin = h('button', { type: 'button', role: 'tab', id: 'tab-login', 'aria-selected': 'true', 'aria-controls': 'login-form' }, t('auth.signin'));
  const tabRegister = h('button', { type: 'button', role: 'tab', id: 'tab-register', 'aria-selected': 'false', 'aria-controls': 'register-form', tabindex: '-1' }, t('auth.register'));
  const select = (which) => {
    const reg = which === 'register';
    tabLogin.setAttribute('aria-selected', String(!reg));
    tabRegister.setAttribute('aria-selected', String(reg));
    tabLogin.tabIndex = reg ? -1 : 0;
    tabRegister.tabIndex = reg ? 0 : -1;
    loginForm.hidden = reg;
    registerForm.hidden = !reg;
    showError(err, null);
  };
  tabLogin.addEventListener('click', () => select('login'));
  tabRegister.addEventListener('click', () => select('register'));
  for (const tab of [tabLogin, tabRegister]) {
    tab.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      const next = tab === tabLogin ? tabRegister : tabLogin;
      select(next === tabRegister ? 'register' : 'login');
      next.focus();
    });
  }
  loginForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(loginForm);
    busy(loginForm.querySelector('button'), async () => {
      const me = await login(String(f.get('email')).trim(), String(f.get('password')));
      await startSession(me);
    }, err);
  });
  registerForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(registerForm);
    const email = String(f.get('email')).trim();
    const password = String(f.get('password'));
    if (password.length < 10) { showError(err, t('auth.password.hint')); return; }
    busy(registerForm.querySelector('button'), async () => {
      await api('/v1/auth/register', { method: 'POST', body: { email, password, name: String(f.get('name')).trim(), role: 'helper', locale: lang() } });
      const me = await login(email, password);
      location.hash = '#profile';
      await startSession(me);
    }, err);
  });
  root.replaceChildren(h('div', { class: 'view auth-view' },
    h('h1', { tabindex: '-1' }, t('auth.title')),
    h('p', { class: 'lead' }, t('auth.lead')),
    h('div', { class: 'panel' },
      h('div', { class: 'tabs', role: 'tablist', 'aria-label': t('auth.tabs') }, tabLogin, tabRegister),
      err, loginForm, registerForm),
    h('p', { class: 'hint center' }, h('a', { href: '/' }, t('auth.customer')))));
}

async function startSession(me) {
  if (me.role !== 'helper') {
    clearTokens();
    session.me = null;
    renderAuth(main(), t('auth.not_helper'));
    return;
  }
  session.me = me;
  localStorage.setItem(ME_KEY, JSON.stringify(me));
  $('#tabbar').hidden = false;
  session.application = undefined;
  await loadApplication().catch(() => {});
  route();
  startLive();
  checkLevelNotices();
}

export async function signOut() {
  stopLive();
  await logout();
  session.me = null;
  session.application = undefined;
  session.offers.clear();
  localStorage.removeItem(ME_KEY);
  $('#notice-slot')?.replaceChildren();
  // Cached job data belongs to this helper only.
  if ('caches' in window) await caches.delete(API_CACHE).catch(() => {});
  renderAuth(main());
  $('h1', main())?.focus();
}

/* ---------- live updates ---------- */

function startLive() {
  stopLive();
  session.abort = new AbortController();
  stream((ev) => {
    if (ev.type !== 'notification') return;
    const n = ev.data || {};
    const view = currentRoute();
    const open = view?.name === 'job' && n.booking_id && n.booking_id === view.arg;
    // `booking_updated` is a quiet signal (often the helper's own step: the open job just
    // follows); a new message shows in the open job's conversation, elsewhere as a toast.
    if (n.kind === 'level_changed') {
      // A level change (up or down) stays on screen with a link to the progress page.
      if (view?.name === 'progress') route({ keepFocus: true });
      else showLevelBanner(n.title, n.id, n.body);
      return;
    }
    if (n.title && n.kind !== 'booking_updated' && !(n.kind === 'message' && open)) toast(n.title);
    if (n.kind !== 'message') refreshOffers();
    if (view?.name === 'jobs' && n.kind !== 'message') route({ keepFocus: true });
    else if (open) {
      document.dispatchEvent(new CustomEvent('quartier:booking-changed', { detail: { id: n.booking_id, kind: n.kind } }));
    }
  }, { signal: session.abort.signal });
  // A slow poll as well: offers of "any helper nearby" requests that someone else took vanish.
  session.pollTimer = setInterval(() => { if (!document.hidden && !isOffline()) refreshOffers(); }, 20000);
  refreshOffers();
}

function stopLive() {
  session.abort?.abort();
  session.abort = null;
  clearInterval(session.pollTimer);
}

/* ---------- offers ---------- */

let refreshing = null;
export function refreshOffers() {
  if (!session.me) return Promise.resolve();
  refreshing ??= (async () => {
    try {
      const page = await api('/v1/offers?limit=50');
      const fresh = new Map(page.items.map((b) => [b.id, b]));
      for (const [id, entry] of session.offers) {
        if (fresh.has(id) || entry.status === 'taken') continue;
        if (entry.status === 'busy') continue;
        // Gone from my offers: taken by someone else, expired or withdrawn.
        if (entry.booking.helper_id == null) {
          try { await api(`/v1/bookings/${encodeURIComponent(id)}`); session.offers.delete(id); } catch (err) {
            if (isCode(err, 'already_taken')) entry.status = 'taken'; else session.offers.delete(id);
          }
        } else session.offers.delete(id);
      }
      for (const [id, b] of fresh) {
        const entry = session.offers.get(id);
        if (entry) entry.booking = b; else session.offers.set(id, { booking: b, status: 'open' });
      }
      setOffline(false);
    } catch (err) {
      if (isNetworkError(err)) setOffline(true);
    } finally {
      drawOffers();
    }
  })().finally(() => { refreshing = null; });
  return refreshing;
}

function offerCount() {
  return [...session.offers.values()].filter((e) => e.status === 'open').length;
}

function drawOffers() {
  const badge = $('#offer-count');
  const n = offerCount();
  badge.hidden = n === 0;
  badge.textContent = String(n);
  badge.setAttribute('aria-label', t('offers.count', { n }));
  const list = $('#offer-list');
  if (!list) return;
  const entries = [...session.offers.values()].sort((a, b) => a.booking.starts_at.localeCompare(b.booking.starts_at));
  if (!entries.length) {
    list.replaceChildren(h('li', { class: 'empty' }, t('offers.empty')));
    return;
  }
  // Keep focus on the card the helper is on when the list is redrawn.
  const focusedId = document.activeElement?.closest?.('[data-offer]')?.dataset.offer;
  list.replaceChildren(...entries.map(offerCard));
  if (focusedId) $(`[data-offer="${CSS.escape(focusedId)}"] button, [data-offer="${CSS.escape(focusedId)}"] a`, list)?.focus();
}

function whenText(b) {
  return `${formatDate(b.starts_at)}, ${formatTime(b.starts_at)}–${formatTime(b.ends_at)}`;
}

export function serviceName(b) {
  const key = `svc.${b.service}`;
  const name = t(key);
  return name === key ? b.service_name : name;
}

function offerCard(entry) {
  const b = entry.booking;
  const broadcast = b.helper_id == null;
  const titleId = `offer-${b.id}-title`;
  const card = h('li', { class: `offer-card ${entry.status}`, 'data-offer': b.id, 'aria-labelledby': titleId },
    h('div', { class: 'offer-head' },
      h('h3', { id: titleId }, serviceName(b)),
      h('span', { class: `badge ${broadcast ? 'badge-live' : ''}` }, broadcast ? t('offers.nearby') : t('offers.direct'))),
    h('p', { class: 'offer-when' }, whenText(b)),
    h('p', { class: 'offer-price' }, h('span', { class: 'sr-label' }, `${t('job.price')}: `), formatMoney(b.price),
      b.extra_units ? h('span', { class: 'hint' }, ` · ${t('offers.extra', { n: b.extra_units })}`) : null),
    h('p', { class: 'hint' }, broadcast ? t('offers.nearby.hint') : t('offers.direct.hint')));
  if (entry.status === 'taken') {
    card.append(h('p', { class: 'taken-note', role: 'status' }, t('offers.taken')));
    card.append(h('button', { class: 'button secondary', type: 'button', onclick: () => { session.offers.delete(b.id); drawOffers(); } }, t('offers.dismiss')));
    return card;
  }
  const err = errorBox();
  if (entry.error) err.textContent = entry.error;
  const acceptBtn = h('button', { class: 'button accept', type: 'button', 'aria-describedby': titleId, disabled: entry.status === 'busy' || isOffline() },
    t('offers.accept'));
  const declineBtn = h('button', { class: 'button secondary', type: 'button', 'aria-describedby': titleId, disabled: entry.status === 'busy' || isOffline() },
    t('offers.decline'));
  acceptBtn.addEventListener('click', () => accept(entry));
  declineBtn.addEventListener('click', () => decline(entry));
  card.append(err, h('div', { class: 'actions' }, acceptBtn, declineBtn));
  return card;
}

async function accept(entry) {
  const id = entry.booking.id;
  entry.status = 'busy';
  entry.error = null;
  drawOffers();
  try {
    const booking = await api(`/v1/bookings/${encodeURIComponent(id)}/transitions`, { method: 'POST', body: { action: 'accept' } });
    session.offers.delete(id);
    drawOffers();
    toast(t('offers.accepted'));
    location.hash = `#job/${encodeURIComponent(booking.id)}`;
  } catch (err) {
    if (isCode(err, 'already_taken')) {
      entry.status = 'taken';
      toast(t('offers.taken'));
    } else {
      entry.status = 'open';
      entry.error = err instanceof ApiError && err.code === 'invalid_transition' ? t('offers.gone') : errorText(err);
      if (isNetworkError(err)) setOffline(true);
    }
    drawOffers();
  }
}

async function decline(entry) {
  const id = entry.booking.id;
  entry.status = 'busy';
  drawOffers();
  try {
    await api(`/v1/bookings/${encodeURIComponent(id)}/transitions`, { method: 'POST', body: { action: 'decline' } });
    session.offers.delete(id);
    toast(t('offers.declined'));
  } catch (err) {
    entry.status = isCode(err, 'already_taken') ? 'taken' : 'open';
    if (entry.status === 'open') entry.error = errorText(err);
  }
  drawOffers();
}

function vettingCard() {
  const a = session.application;
  if (a && a.status === 'approved') return null;
  const text = !a ? t('offers.not_applied') : t(`offers.vetting.${a.status}`);
  return h('div', { class: 'panel notice' }, h('p', {}, text), h('a', { class: 'button secondary', href: '#profile' }, t('offers.to_profile')));
}

async function renderOffers(root) {
  const list = h('ul', { id: 'offer-list', class: 'cards', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  root.append(...[
    h('div', { class: 'view-head' },
      h('h1', { tabindex: '-1' }, t('offers.title')),
      h('span', { class: 'live-dot', role: 'img', 'aria-label': t('offers.live') }, t('offers.live.short'))),
    vettingCard(),
    h('p', { class: 'lead' }, t('offers.lead')),
    list].filter(Boolean));
  drawOffers();
  await refreshOffers();
}

/* ---------- jobs ---------- */

async function renderJobs(root) {
  const status = h('p', { class: 'status', role: 'status' }, t('loading'));
  root.append(h('h1', { tabindex: '-1' }, t('jobs.title')), status);
  let page;
  try {
    page = await api('/v1/bookings?limit=100');
  } catch (err) {
    if (isNetworkError(err)) setOffline(true);
    status.textContent = errorText(err);
    return;
  }
  status.remove();
  const today = zurichDate();
  const now = Date.now();
  const groups = { today: [], upcoming: [], past: [] };
  for (const b of page.items) {
    const day = zurichDate(new Date(b.starts_at));
    if (ACTIVE.includes(b.state) && day === today) groups.today.push(b);
    else if (ACTIVE.includes(b.state) && Date.parse(b.ends_at) >= now) groups.upcoming.push(b);
    else groups.past.push(b);
  }
  groups.today.sort((a, b) => a.starts_at.localeCompare(b.starts_at));
  groups.upcoming.sort((a, b) => a.starts_at.localeCompare(b.starts_at));
  for (const [key, items] of Object.entries(groups)) {
    const shown = key === 'past' ? items.slice(0, 15) : items;
    root.append(h('h2', {}, t(`jobs.${key}`)),
      shown.length ? h('ul', { class: 'cards' }, ...shown.map(jobCard)) : h('p', { class: 'status' }, t(`jobs.${key}.empty`)));
  }
}

function jobCard(b) {
  return h('li', { class: `job-card state-${b.state}` },
    h('a', { href: `#job/${encodeURIComponent(b.id)}`, class: 'job-link' },
      h('span', { class: 'job-when' }, whenText(b)),
      h('span', { class: 'job-title' }, serviceName(b)),
      b.address ? h('span', { class: 'job-address' }, b.address) : null,
      h('span', { class: `badge state-badge s-${b.state}` }, stateName(b.state))));
}

/* ---------- earnings ---------- */

async function renderEarnings(root) {
  const thisYear = Number(zurichDate().slice(0, 4));
  const yearSel = field(t('earn.year'), { tag: 'select', name: 'year', options: [0, 1, 2].map((d) => [String(thisYear - d), String(thisYear - d)]) });
  const body = h('div', {});
  const err = errorBox();
  const csvBtn = h('button', { class: 'button secondary', type: 'button' }, t('earn.csv'));
  root.append(h('h1', { tabindex: '-1' }, t('earn.title')), h('div', { class: 'panel form' }, yearSel, err, csvBtn), body);
  const select = $('select', yearSel);
  const load = async () => {
    body.replaceChildren(h('p', { class: 'status', role: 'status' }, t('loading')));
    try {
      const e = await api(`/v1/helper/earnings?year=${select.value}`);
      const sum = (k) => ({ amount_rappen: e.months.reduce((s, m) => s + m[k].amount_rappen, 0), currency: 'CHF' });
      const months = e.months.filter((m) => ['earned', 'released', 'penalties', 'cash_received'].some((k) => m[k].amount_rappen));
      const monthName = (ym) => new Intl.DateTimeFormat(`${lang()}-CH`, { month: 'long', timeZone: 'UTC' }).format(new Date(`${ym}-01T00:00:00Z`));
      body.replaceChildren(
        h('dl', { class: 'stat-grid' },
          stat(t('earn.earned'), formatMoney(sum('earned'))),
          stat(t('earn.held'), formatMoney(e.held)),
          stat(t('earn.payable'), formatMoney(e.payable)),
          stat(t('earn.cash'), formatMoney(sum('cash_received')))),
        h('h2', {}, t('earn.months')),
        months.length
          ? h('ul', { class: 'cards' }, ...months.map((m) => h('li', { class: 'panel month' },
            h('h3', {}, `${monthName(m.month)} ${m.month.slice(0, 4)}`),
            h('dl', { class: 'facts' },
              stat(t('earn.earned'), formatMoney(m.earned)),
              stat(t('earn.released'), formatMoney(m.released)),
              stat(t('earn.penalties'), formatMoney(m.penalties)),
              stat(t('earn.cash'), formatMoney(m.cash_received))))))
          : h('p', { class: 'status' }, t('earn.none')));
    } catch (error) {
      body.replaceChildren(h('p', { class: 'error', role: 'alert' }, errorText(error)));
    }
  };
  select.addEventListener('change', load);
  // The statement needs the access token, so it is fetched and saved rather than linked.
  csvBtn.addEventListener('click', () => busy(csvBtn, async () => {
    const res = await api(`/v1/helper/earnings?year=${select.value}&format=csv`, { raw: true });
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', { href: url, download: `quartier-statement-${select.value}.csv`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }, err));
  await load();
}

function stat(label, value) {
  return h('div', {}, h('dt', {}, label), h('dd', {}, value));
}

/* ---------- start ---------- */

async function boot() {
  registerServiceWorker();
  $('#lang-slot').append(langSwitch());
  translatePage();
  setOffline(!navigator.onLine);
  onLangChange(() => {
    translatePage();
    if (session.me) route({ keepFocus: true }); else renderAuth(main());
    drawOffers();
  });
  onOfflineChange(() => { drawOffers(); document.dispatchEvent(new Event('quartier:online-changed')); });
  window.addEventListener('hashchange', () => { if (session.me) route(); });
  if (!signedIn()) { renderAuth(main()); return; }
  try {
    const me = await api('/v1/me');
    await startSession(me);
  } catch (err) {
    if (isNetworkError(err)) {
      setOffline(true);
      // Offline: start with the helper we knew, so cached jobs stay readable.
      const known = JSON.parse(localStorage.getItem(ME_KEY) || 'null');
      if (known?.role === 'helper') { await startSession(known); return; }
    }
    if (err instanceof ApiError && err.status === 401) { clearTokens(); localStorage.removeItem(ME_KEY); }
    renderAuth(main(), err instanceof ApiError && err.status === 401 ? null : errorText(err));
  }
}

boot();
