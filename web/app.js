// Quartier for customers: catalogue, price, helpers nearby, booking, the visit live, payment,
// review, disputes, helpers' profiles (level and badges) and the account. One page, hash routes
// (#/, #/book/<slug>, #/helpers/<id>, #/bookings, #/bookings/<id>, #/account, #/signin). Vanilla ES module on web/common.js, no build step.
import {
  $, $$, h, api, t, translatePage, langSwitch, onLangChange, lang, formatMoney, formatDateTime,
  formatDate, formatTime, zurichToIso, stream, login, logout, signedIn, clearTokens, messageOf,
  ApiError, ZONE,
} from './common.js';
import { POSTCODES, serviceName, serviceDescription } from './customer-i18n.js';

const view = $('#view');
const notice = $('#notice');
const statusLine = $('#status');

let me = null; // GET /v1/me, or null when signed out
let catalog = null; // GET /v1/catalog items
let current = null; // {abort: AbortController, rerender?: fn}

/* ---------- small helpers ---------- */

function showError(err) { notice.textContent = err ? (typeof err === 'string' ? err : messageOf(err)) : ''; }
let saidAt = 0;
let sayTimer = null;
function say(text) {
  statusLine.textContent = '';
  saidAt = Date.now();
  clearTimeout(sayTimer);
  // A fresh text node is announced even when the text repeats; it goes away after a while.
  setTimeout(() => { statusLine.textContent = text; }, 30);
  sayTimer = setTimeout(() => { statusLine.textContent = ''; }, 10_000);
}

// Runs fn with the button disabled and busy; errors go to the notice.
async function busy(button, fn) {
  showError('');
  if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); }
  try {
    return await fn();
  } catch (err) {
    showError(err);
    return undefined;
  } finally {
    if (button) { button.disabled = false; button.removeAttribute('aria-busy'); }
  }
}

let idSeq = 0;
const uid = (p) => `${p}-${++idSeq}`;

// A labelled form field: field('Label', inputElement, hint?).
function field(labelKey, input, hintKey) {
  input.id ||= uid('f');
  const hint = hintKey ? h('small', { class: 'hint', id: `${input.id}-hint` }, t(hintKey)) : null;
  if (hint) input.setAttribute('aria-describedby', hint.id);
  return h('div', { class: 'field' }, h('label', { for: input.id }, t(labelKey)), input, hint);
}

const button = (labelKey, attrs = {}, cls = 'button') => h('button', { type: 'button', class: cls, ...attrs }, t(labelKey));
const section = (titleKey, ...children) => {
  const id = uid('s');
  return h('section', { class: 'panel c-section', 'aria-labelledby': id }, h('h2', { id }, t(titleKey)), ...children);
};

function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, class: 'c-visually-hidden' }, name);
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 1000);
}

const blobToDataUrl = (blob) => new Promise((ok, fail) => {
  const r = new FileReader();
  r.onload = () => ok(r.result);
  r.onerror = () => fail(r.error);
  r.readAsDataURL(blob);
});

// "YYYY-MM-DD" and "HH:MM" of an instant in Zurich.
function zurichParts(date) {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
    timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(date).map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}` };
}

const moneyOf = (rappen) => formatMoney({ amount_rappen: rappen, currency: 'CHF' });

function stateBadge(state) {
  const tone = {
    done: 'ok', confirmed: 'ok', accepted: 'ok', en_route: 'info', on_site: 'info', offered: 'wait', requested: 'wait',
  }[state] || 'stop';
  return h('span', { class: `c-badge c-badge-${tone}` }, t(`state.${state}`));
}

/* ---------- session ---------- */

async function loadMe() {
  if (!signedIn()) { me = null; return null; }
  try {
    me = await api('/v1/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) { clearTokens(); me = null; } else throw err;
  }
  return me;
}

function updateHeader() {
  $('#nav-account').textContent = me ? t('nav.account') : t('nav.signin');
  $('#nav-account').setAttribute('href', me ? '#/account' : '#/signin');
}

// Views that need a customer call this first; it sends others to sign-in and back.
function requireCustomer() {
  if (!me) {
    location.hash = `#/signin?next=${encodeURIComponent(location.hash || '#/')}`;
    return false;
  }
  if (me.role !== 'customer') {
    view.replaceChildren(section('role.title',
      h('p', {}, t('role.text', { role: t(`role.${me.role}`) })),
      h('p', {}, h('a', { href: me.role === 'helper' ? '/helper.html' : '/ops.html' }, t(`role.open_${me.role}`)))));
    return false;
  }
  return true;
}

/* ---------- routing ---------- */

const routes = [
  [/^\/?$/, 'home', home],
  [/^\/signin$/, 'account', signInView],
  [/^\/book\/([\w-]+)$/, 'home', bookView],
  [/^\/helpers\/([\w-]+)$/, 'home', helperView],
  [/^\/bookings$/, 'bookings', bookingsView],
  [/^\/bookings\/([\w-]+)$/, 'bookings', bookingView],
  [/^\/account$/, 'account', accountView],
];

function parseHash() {
  const raw = decodeURIComponent(location.hash.replace(/^#/, '')) || '/';
  const [path, query = ''] = raw.split('?');
  return { path, query: new URLSearchParams(query) };
}

async function render({ focus = true } = {}) {
  current?.abort.abort();
  const abort = new AbortController();
  current = { abort };
  showError('');
  if (Date.now() - saidAt > 1500) statusLine.textContent = ''; // keep what the step that navigated here said
  const { path, query } = parseHash();
  const found = routes.find(([re]) => re.test(path)) || routes[0];
  const [re, nav, fn] = found;
  for (const a of $$('.c-nav a')) {
    if (a.dataset.route === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  view.setAttribute('aria-busy', 'true');
  try {
    await fn({ params: path.match(re)?.slice(1) ?? [], query, signal: abort.signal });
  } catch (err) {
    if (!abort.signal.aborted) showError(err);
  } finally {
    view.setAttribute('aria-busy', 'false');
  }
  if (abort.signal.aborted) return;
  const h1 = $('h1', view);
  document.title = h1 ? `${h1.textContent} · Quartier` : 'Quartier';
  if (focus && h1) { h1.tabIndex = -1; h1.focus({ preventScroll: false }); }
}

window.addEventListener('hashchange', () => render());
onLangChange(() => {
  updateHeader();
  if (current?.rerender) current.rerender(); else render({ focus: false });
});

/* ---------- catalogue (home) ---------- */

async function loadCatalog() {
  if (!catalog) catalog = (await api('/v1/catalog')).items || [];
  return catalog;
}

function serviceCard(item) {
  const titleId = uid('svc');
  return h('li', { class: `service-card${item.preview ? ' preview' : ''}`, 'data-slug': item.slug },
    h('span', { class: 'skill' }, t(`skill.${item.skill}`)),
    h('h3', { id: titleId }, serviceName(item)),
    item.preview ? h('p', { class: 'c-preview' }, h('strong', {}, t('svc.preview')), ' ', t('svc.preview_hint')) : null,
    h('p', {}, serviceDescription(item)),
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, t('svc.price')), h('dd', { class: 'price' }, formatMoney(item.base_price))),
      h('div', {}, h('dt', {}, t('svc.duration')), h('dd', { class: 'duration' }, t('minutes', { n: item.duration_minutes }))),
      h('div', {}, h('dt', {}, t('svc.extra')), h('dd', { class: 'extra' }, formatMoney(item.extra_unit_price)))),
    h('a', { class: 'button c-card-action', href: `#/book/${item.slug}`, 'aria-describedby': titleId }, t('svc.book')));
}

async function home() {
  const items = await loadCatalog();
  const draw = () => {
    view.replaceChildren(
      h('div', { class: 'c-hero' },
        h('h1', {}, t('home.title')),
        h('p', { class: 'lead' }, t('home.lead')),
        h('ol', { class: 'c-steps' }, h('li', {}, t('home.step1')), h('li', {}, t('home.step2')), h('li', {}, t('home.step3')))),
      h('section', { 'aria-labelledby': 'services-title', id: 'services' },
        h('h2', { id: 'services-title' }, t('home.services')),
        h('p', { class: 'lead' }, t('home.services_lead')),
        items.length ? h('ul', { id: 'catalog', class: 'grid', role: 'list' }, ...items.map(serviceCard))
          : h('p', { class: 'status' }, t('home.no_services'))));
  };
  draw();
  current.rerender = draw;
}

/* ---------- sign in / register ---------- */

async function signInView({ query }) {
  const next = query.get('next') || '#/bookings';
  if (me) { location.hash = next; return; }
  let tab = query.get('tab') === 'register' ? 1 : 0;
  const draw = () => {
    const email = h('input', { name: 'email', type: 'email', autocomplete: 'username', required: true });
    const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const loginForm = h('form', { class: 'form', id: 'login-form', novalidate: true },
      field('auth.email', email), field('auth.password', password),
      h('button', { class: 'button', type: 'submit' }, t('auth.signin')));
    const rName = h('input', { name: 'name', type: 'text', autocomplete: 'name', required: true });
    const rEmail = h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true });
    const rPassword = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: '10', required: true });
    const registerForm = h('form', { class: 'form', id: 'register-form', novalidate: true },
      field('auth.name', rName), field('auth.email', rEmail), field('auth.password', rPassword, 'auth.password_hint'),
      h('button', { class: 'button', type: 'submit' }, t('auth.create')),
      h('p', { class: 'hint' }, t('auth.helper_hint'), ' ', h('a', { href: '/helper.html' }, t('footer.helpers'))));
    const tabs = [
      h('button', { type: 'button', role: 'tab', id: 'tab-login', 'aria-controls': 'login-form' }, t('auth.signin')),
      h('button', { type: 'button', role: 'tab', id: 'tab-register', 'aria-controls': 'register-form' }, t('auth.register')),
    ];
    loginForm.setAttribute('role', 'tabpanel'); loginForm.setAttribute('aria-labelledby', 'tab-login');
    registerForm.setAttribute('role', 'tabpanel'); registerForm.setAttribute('aria-labelledby', 'tab-register');
    const select = (i, focus) => {
      tab = i;
      tabs.forEach((b, j) => { b.setAttribute('aria-selected', String(i === j)); b.tabIndex = i === j ? 0 : -1; });
      loginForm.hidden = i !== 0; registerForm.hidden = i !== 1;
      if (focus) tabs[i].focus();
    };
    tabs.forEach((b, i) => {
      b.addEventListener('click', () => { showError(''); select(i); });
      b.addEventListener('keydown', (e) => {
        const to = { ArrowRight: (i + 1) % 2, ArrowLeft: (i + 1) % 2, Home: 0, End: 1 }[e.key];
        if (to !== undefined) { e.preventDefault(); select(to, true); }
      });
    });
    select(tab);
    const check = (form) => {
      const bad = [...form.elements].find((f) => f.willValidate && !f.checkValidity());
      form.querySelectorAll('input').forEach((f) => f.setAttribute('aria-invalid', String(!f.validity.valid)));
      if (!bad) return true;
      showError(bad.validity.tooShort ? t('auth.password_short') : t('form.check', { field: bad.labels?.[0]?.textContent || bad.name }));
      bad.focus();
      return false;
    };
    const done = async () => {
      await loadMe();
      updateHeader();
      location.hash = next;
    };
    loginForm.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!check(loginForm)) return;
      busy(loginForm.querySelector('[type=submit]'), async () => { await login(email.value.trim(), password.value); await done(); });
    });
    registerForm.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!check(registerForm)) return;
      busy(registerForm.querySelector('[type=submit]'), async () => {
        await api('/v1/auth/register', {
          method: 'POST',
          body: { email: rEmail.value.trim(), password: rPassword.value, name: rName.value.trim(), role: 'customer', locale: lang() },
        });
        await login(rEmail.value.trim(), rPassword.value);
        await done();
      });
    });
    view.replaceChildren(h('div', { class: 'c-narrow' },
      h('h1', {}, t('auth.title')),
      h('p', { class: 'lead' }, t('auth.lead')),
      h('div', { class: 'panel' }, h('div', { class: 'tabs', role: 'tablist', 'aria-label': t('auth.title') }, ...tabs), loginForm, registerForm)));
  };
  draw();
  current.rerender = draw;
}

/* ---------- booking a visit ---------- */

// What the customer entered and found, kept while they move around (and across a sign-in).
const DRAFT = 'quartier.customer.draft';
function loadDraft(slug) {
  try {
    const d = JSON.parse(sessionStorage.getItem(DRAFT) || 'null');
    if (d && d.slug === slug) return d;
  } catch { /* start over */ }
  const tomorrow = zurichParts(new Date(Date.now() + 86_400_000));
  return { slug, street: '', postcode: '8001', date: tomorrow.date, time: '10:00', extra: 0, quote: null, matches: null, chosen: null, slots: null, slot: null };
}
function saveDraft(d) { sessionStorage.setItem(DRAFT, JSON.stringify(d)); }

const placeName = (pc) => POSTCODES.find(([code]) => code === pc)?.[1] ?? '';

function explanationSentences(m) {
  return m.explanation.components.map((c) => {
    const weight = Math.round(c.weight * 100);
    let text;
    switch (c.name) {
      case 'distance': text = t('why.distance', { bucket: t(`distance.${m.distance}`) }); break;
      case 'language': case 'skill_fit': text = c.value >= 0.99 ? t('why.language_yes') : t('why.language_no'); break;
      case 'rating': text = t('why.rating', { stars: (1 + 4 * c.value).toLocaleString(lang() === 'en' ? 'en-CH' : `${lang()}-CH`, { maximumFractionDigits: 1 }) }); break;
      case 'reliability': text = t('why.reliability', { pct: Math.round(c.value * 100) }); break;
      case 'fairness': text = c.value >= 0.75 ? t('why.fairness_high') : t('why.fairness_low'); break;
      case 'level': text = t(`why.level_${c.value >= 0.99 ? 'super' : c.value >= 0.49 ? 'trusted' : 'new'}`); break;
      case 'proven_skill': text = c.value >= 0.99 ? t('why.proven_yes') : t('why.proven_no'); break;
      default: text = `${c.name}: ${Math.round(c.value * 100)} %`;
    }
    return h('li', { 'data-component': c.name }, text, ' ', h('span', { class: 'hint' }, t('why.weight', { pct: weight })));
  });
}

function quoteTable(lines, total, svc) {
  return h('table', { class: 'c-price' },
    h('caption', { class: 'c-visually-hidden' }, t('quote.caption')),
    h('tbody', {}, ...lines.map((l) => h('tr', {},
      h('th', { scope: 'row' }, l.kind === 'base' && svc ? serviceName(svc) : t(`line.${l.kind}`) === `line.${l.kind}` ? l.label : t(`line.${l.kind}`)),
      h('td', {}, formatMoney(l.amount))))),
    h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, t('quote.total')), h('td', { class: 'c-total' }, formatMoney(total)))));
}

async function bookView({ params: [slug] }) {
  const items = await loadCatalog();
  const svc = items.find((s) => s.slug === slug);
  if (!svc) {
    view.replaceChildren(h('h1', {}, t('book.unknown')), h('p', {}, h('a', { href: '#/' }, t('nav.services'))));
    return;
  }
  const d = loadDraft(slug);
  const signal = current.abort.signal;

  const startIso = () => zurichToIso(`${d.date}T${d.time}`);
  const durationOf = () => svc.duration_minutes + 30 * d.extra;

  function readForm(form) {
    d.street = form.elements.street.value.trim();
    d.postcode = form.elements.postcode.value;
    d.date = form.elements.date.value;
    d.time = form.elements.time.value;
    d.extra = Number(form.elements.extra.value);
    saveDraft(d);
  }

  function validate(form) {
    const bad = [...form.elements].find((f) => f.willValidate && !f.checkValidity());
    form.querySelectorAll('input,select').forEach((f) => f.setAttribute('aria-invalid', String(!f.validity.valid)));
    if (bad) {
      showError(t('form.check', { field: bad.labels?.[0]?.textContent || bad.name }));
      bad.focus();
      return false;
    }
    if (new Date(startIso()).getTime() < Date.now() + 65 * 60_000) {
      showError(t('book.too_soon'));
      form.elements.date.focus();
      return false;
    }
    return true;
  }

  async function getQuote(btn, form) {
    readForm(form);
    if (!validate(form)) return;
    await busy(btn, async () => {
      d.quote = await api('/v1/quotes', { method: 'POST', body: { service: slug, postcode: d.postcode, start: startIso(), duration: durationOf() } });
      d.matches = null; d.chosen = null; d.slots = null; d.slot = null;
      saveDraft(d);
      draw();
      $('#quote-title')?.focus();
    });
  }

  async function findHelpers(btn) {
    if (!me) { saveDraft(d); location.hash = `#/signin?next=${encodeURIComponent(`#/book/${slug}`)}`; return; }
    await busy(btn, async () => {
      const from = new Date(startIso());
      const to = new Date(from.getTime() + 7 * 86_400_000);
      const page = await api('/v1/matches', {
        method: 'POST',
        body: { service: slug, postcode: d.postcode, window: { from: from.toISOString(), to: to.toISOString() }, duration: durationOf(), limit: 8 },
      });
      d.matches = page.items; d.chosen = null; d.slots = null; d.slot = null;
      // Each helper's level and badges come with the public profile.
      d.profiles = {};
      await Promise.all(page.items.map((m) => api(`/v1/helpers/${m.helper.id}`)
        .then((p) => { d.profiles[m.helper.id] = { level: p.level, badges: p.badges || [] }; }).catch(() => {})));
      saveDraft(d);
      draw();
      $('#matches-title')?.focus();
    });
  }

  async function choose(btn, m) {
    await busy(btn, async () => {
      const from = new Date(startIso());
      const to = new Date(from.getTime() + 7 * 86_400_000);
      const q = new URLSearchParams({ service: slug, from: from.toISOString(), to: to.toISOString() });
      const s = await api(`/v1/helpers/${m.helper.id}/slots?${q}`);
      d.chosen = m.helper.id;
      d.slots = s.slots.slice(0, 40);
      d.slot = d.slots.find((x) => new Date(x).getTime() === from.getTime()) ?? d.slots[0] ?? null;
      saveDraft(d);
      draw();
      $(`#slots-${m.helper.id}`)?.focus();
    });
  }

  async function book(btn, helperId) {
    await busy(btn, async () => {
      const body = {
        service: slug,
        address: `${d.street}, ${d.postcode} ${placeName(d.postcode)}`,
        start: helperId ? new Date(d.slot).toISOString() : startIso(),
        postcode: d.postcode,
        extra_units: d.extra,
      };
      if (helperId) body.helper_id = helperId;
      const booking = await api('/v1/bookings', { method: 'POST', body });
      sessionStorage.removeItem(DRAFT);
      say(t('book.sent'));
      location.hash = `#/bookings/${booking.id}`;
    });
  }

  function formPanel() {
    const street = h('input', { name: 'street', type: 'text', autocomplete: 'street-address', required: true, minlength: '3', maxlength: '200', value: d.street });
    const postcode = h('select', { name: 'postcode', autocomplete: 'postal-code', required: true },
      ...POSTCODES.map(([code, name]) => h('option', { value: code, selected: code === d.postcode }, `${code} ${name}`)));
    const today = zurichParts(new Date()).date;
    const date = h('input', { name: 'date', type: 'date', required: true, min: today, value: d.date });
    const time = h('input', { name: 'time', type: 'time', required: true, step: '900', min: '07:00', max: '21:00', value: d.time });
    const extra = h('select', { name: 'extra' },
      ...[0, 1, 2, 3, 4].map((n) => h('option', { value: String(n), selected: n === d.extra },
        n === 0 ? t('book.duration_standard', { n: svc.duration_minutes })
          : t('book.duration_extra', { n: svc.duration_minutes + 30 * n, price: moneyOf(n * svc.extra_unit_price.amount_rappen) }))));
    const submit = h('button', { type: 'submit', class: 'button', id: 'get-quote' }, t('book.get_quote'));
    const form = h('form', { class: 'form', id: 'book-form', novalidate: true },
      field('book.street', street, 'book.street_hint'),
      field('book.postcode', postcode),
      h('div', { class: 'field-row' }, field('book.date', date), field('book.time', time)),
      field('book.duration', extra),
      submit);
    form.addEventListener('submit', (e) => { e.preventDefault(); getQuote(submit, form); });
    form.addEventListener('input', () => readForm(form));
    form.addEventListener('change', () => readForm(form));
    return section('book.where_when', form);
  }

  function quotePanel() {
    if (!d.quote) return null;
    const when = formatDateTime(startIso(), { dateStyle: 'full', timeStyle: 'short' });
    const find = button('book.find', { id: 'find-helpers' });
    find.addEventListener('click', () => findHelpers(find));
    const any = button('book.any', { id: 'book-any' }, 'button secondary');
    any.addEventListener('click', () => book(any, null));
    return h('section', { class: 'panel c-section', 'aria-labelledby': 'quote-title' },
      h('h2', { id: 'quote-title', tabindex: '-1' }, t('quote.title')),
      h('p', {}, t('quote.for', { when, place: `${d.postcode} ${placeName(d.postcode)}` })),
      quoteTable(d.quote.lines, d.quote.total, svc),
      h('p', { class: 'hint' }, t('quote.note')),
      me ? null : h('p', { class: 'hint' }, t('book.signin_needed')),
      h('div', { class: 'c-actions' }, find, any),
      h('p', { class: 'hint' }, t('book.any_hint')));
  }

  function matchCard(m) {
    const nameId = `helper-${m.helper.id}`;
    const chosen = d.chosen === m.helper.id;
    const pick = button(chosen ? 'book.times_again' : 'book.see_times', { 'aria-describedby': nameId, 'data-helper': m.helper.id }, 'button secondary');
    pick.addEventListener('click', () => choose(pick, m));
    let slotsBlock = null;
    if (chosen && d.slots) {
      if (!d.slots.length) {
        slotsBlock = h('p', { class: 'status', id: `slots-${m.helper.id}`, tabindex: '-1' }, t('book.no_slots'));
      } else {
        const groups = new Map();
        for (const s of d.slots) {
          const key = formatDate(s);
          if (!groups.has(key)) groups.set(key, []);
          groups.get(key).push(s);
        }
        const radios = [...groups].map(([day, list]) => h('div', { class: 'c-slot-day' },
          h('p', { class: 'c-slot-date' }, day),
          h('div', { class: 'c-slot-list' }, ...list.map((s) => {
            const input = h('input', { type: 'radio', name: `slot-${m.helper.id}`, value: s, id: uid('slot'), checked: s === d.slot });
            input.addEventListener('change', () => { d.slot = s; saveDraft(d); });
            return h('label', { class: 'c-slot', for: input.id }, input, h('span', {}, formatTime(s)));
          }))));
        const confirm = button('book.confirm', { id: 'confirm-booking' });
        confirm.textContent = t('book.confirm', { name: m.helper.name });
        confirm.addEventListener('click', () => book(confirm, m.helper.id));
        slotsBlock = h('div', { class: 'c-slots' },
          h('fieldset', { id: `slots-${m.helper.id}`, tabindex: '-1' }, h('legend', {}, t('book.pick_time', { name: m.helper.name })), ...radios),
          h('p', {}, t('book.confirm_note', { price: formatMoney(m.price) })),
          confirm);
      }
    }
    const langs = m.helper.languages.map((l) => t(`lang.${l}`)).join(', ');
    const prof = d.profiles?.[m.helper.id];
    return h('li', { class: 'c-match', 'data-helper': m.helper.id },
      h('h3', { id: nameId }, m.helper.name),
      prof ? levelLine(prof.level) : null,
      prof ? badgeList(prof.badges) : null,
      m.helper.bio ? h('p', { class: 'c-bio' }, m.helper.bio) : null,
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', {}, t('match.distance')), h('dd', {}, t(`distance.${m.distance}`))),
        h('div', {}, h('dt', {}, t('match.earliest')), h('dd', {}, formatDateTime(m.earliest_start, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }))),
        h('div', {}, h('dt', {}, t('match.price')), h('dd', { class: 'price' }, formatMoney(m.price))),
        langs ? h('div', {}, h('dt', {}, t('match.languages')), h('dd', {}, langs)) : null),
      h('details', { class: 'c-why' },
        h('summary', {}, t('match.why')),
        h('ul', {}, ...explanationSentences(m))),
      h('div', { class: 'c-actions' }, pick,
        h('a', { class: 'c-profile-link', href: `#/helpers/${m.helper.id}`, 'aria-describedby': nameId }, t('helper.profile'))),
      slotsBlock);
  }

  function matchesPanel() {
    if (!d.matches) return null;
    return h('section', { class: 'panel c-section', 'aria-labelledby': 'matches-title' },
      h('h2', { id: 'matches-title', tabindex: '-1' }, t('match.title')),
      d.matches.length
        ? h('div', {}, h('p', { class: 'hint' }, t('match.lead')), h('ol', { class: 'c-matches', id: 'matches' }, ...d.matches.map(matchCard)))
        : h('p', { class: 'status' }, t('match.none')));
  }

  function draw() {
    if (signal.aborted) return;
    view.replaceChildren(
      h('p', { class: 'c-back' }, h('a', { href: '#/' }, t('book.back'))),
      h('h1', {}, serviceName(svc)),
      h('p', { class: 'lead' }, serviceDescription(svc), ' ',
        t('book.from', { price: formatMoney(svc.base_price), n: svc.duration_minutes })),
      h('div', { class: 'c-flow' }, formPanel(), quotePanel(), matchesPanel()));
  }
  draw();
  current.rerender = draw;
}

/* ---------- helpers' levels, badges and profiles ---------- */

// A helper's level: a tag and in one sentence what it means.
function levelLine(level) {
  if (!level) return null;
  return h('p', { class: 'c-level', 'data-level': level },
    h('span', { class: `c-level-badge level-${level}` }, t(`level.${level}`)), ' ',
    h('span', { class: 'c-level-what' }, t(`level.${level}.what`)));
}

// Earned skill badges: "Printer and scanner set-up · 20 set-ups".
function badgeList(badges) {
  if (!badges?.length) return null;
  return h('ul', { class: 'c-badges', 'aria-label': t('helper.badges') }, ...badges.map((b) => h('li', { class: 'c-badge-skill', 'data-service': b.service },
    h('span', { class: 'c-medal', 'aria-hidden': 'true' }, String(b.tier)),
    h('span', {}, t('helper.badge', { service: serviceName({ slug: b.service, name: b.service_name }), n: b.tier })))));
}

async function helperView({ params: [id], signal }) {
  const p = await api(`/v1/helpers/${encodeURIComponent(id)}`);
  const draw = () => {
    if (signal.aborted) return;
    const langs = (p.languages || []).map((l) => t(`lang.${l}`)).join(', ');
    const skills = (p.skills || []).map((s) => t(`skill.${s}`)).join(', ');
    view.replaceChildren(
      h('p', { class: 'c-back' }, h('a', {
        href: '#/',
        // Back to where the customer came from (the matches or a booking), else the catalogue.
        onclick: (e) => { if (history.length > 1) { e.preventDefault(); history.back(); } },
      }, t('helper.back'))),
      h('h1', {}, p.name),
      h('div', { class: 'c-flow c-helper-profile' },
        h('section', { class: 'panel c-section', 'aria-labelledby': 'helper-level-title', id: 'helper-level' },
          h('h2', { id: 'helper-level-title' }, t('helper.level')),
          levelLine(p.level),
          h('p', { class: 'hint' }, t('helper.level_how'))),
        h('section', { class: 'panel c-section', 'aria-labelledby': 'helper-badges-title', id: 'helper-badges' },
          h('h2', { id: 'helper-badges-title' }, t('helper.badges')),
          badgeList(p.badges) || h('p', { class: 'status' }, t('helper.no_badges')),
          h('p', { class: 'hint' }, t('helper.badges_how'))),
        h('section', { class: 'panel c-section', 'aria-labelledby': 'helper-about-title' },
          h('h2', { id: 'helper-about-title' }, t('helper.about')),
          p.bio ? h('p', {}, p.bio) : null,
          h('dl', { class: 'facts' },
            langs ? h('div', {}, h('dt', {}, t('match.languages')), h('dd', {}, langs)) : null,
            skills ? h('div', {}, h('dt', {}, t('helper.skills')), h('dd', {}, skills)) : null,
            p.travel_radius_km ? h('div', {}, h('dt', {}, t('helper.radius')), h('dd', {}, t('helper.km', { n: p.travel_radius_km }))) : null))));
  };
  draw();
  current.rerender = draw;
}

/* ---------- my bookings ---------- */

async function bookingsView({ signal }) {
  if (!requireCustomer()) return;
  let items = [];
  const draw = () => {
    const list = items.length
      ? h('ul', { class: 'c-bookings', role: 'list' }, ...items.map((b) => h('li', { class: 'c-booking-item' },
        h('a', { href: `#/bookings/${b.id}`, class: 'c-booking-link' },
          h('span', { class: 'c-booking-name' }, serviceName({ slug: b.service, name: b.service_name })),
          h('span', { class: 'c-booking-when' }, formatDateTime(b.starts_at, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' }))),
        stateBadge(b.state),
        h('span', { class: 'c-booking-price' }, formatMoney(b.price)))))
      : h('p', { class: 'status' }, t('bookings.none'), ' ', h('a', { href: '#/' }, t('bookings.browse')));
    view.replaceChildren(h('h1', {}, t('bookings.title')), list);
  };
  const load = async () => {
    const page = await api('/v1/bookings?limit=50');
    if (signal.aborted) return;
    items = page.items;
    draw();
  };
  await load();
  current.rerender = draw;
  // Any step of a booking changes the list; a new message does not.
  stream((ev) => { if (ev.data?.kind !== 'message') load().catch(() => {}); }, { signal });
}

/* ---------- one booking, live ---------- */

const CANCELLABLE = ['offered', 'requested', 'accepted', 'confirmed'];
const PLANNED = ['accepted', 'confirmed'];
const DISPUTABLE = ['done', 'failed_visit', 'no_show_helper', 'no_show_customer', 'cancelled_by_helper'];
const REASONS = ['no_show', 'poor_work', 'damage', 'overcharged', 'unpaid', 'behaviour', 'other'];

async function bookingView({ params: [id], signal }) {
  if (!requireCustomer()) return;
  const data = { booking: null, helper: null, messages: [], receipt: null, invoice: null, reviews: null, dispute: null, photos: {} };
  const helperNames = new Map();
  // The booking says how and when it was paid; the receipt (lines, what was received) is fetched
  // again only when that changes, not on every refresh.
  let receiptFor = null;

  async function loadAll() {
    const b = await api(`/v1/bookings/${id}`);
    data.booking = b;
    const jobs = [];
    if (b.helper_id && !helperNames.has(b.helper_id)) {
      jobs.push(api(`/v1/helpers/${b.helper_id}`).then((x) => helperNames.set(b.helper_id, x)).catch(() => {}));
    }
    if (b.helper_id) jobs.push(loadMessages());
    if (b.state === 'done') {
      const key = `${b.payment_method}|${b.paid_at}`;
      if (key !== receiptFor || !data.receipt) {
        jobs.push(api(`/v1/bookings/${id}/receipt`).then((r) => { data.receipt = r; receiptFor = key; }));
      }
      if (b.payment_method === 'invoice' && !data.invoice) jobs.push(loadInvoice().then((x) => { data.invoice = x; }));
      jobs.push(api(`/v1/bookings/${id}/reviews`).then((r) => { data.reviews = r; }).catch(() => {}));
    }
    if (DISPUTABLE.includes(b.state)) {
      jobs.push(api(`/v1/bookings/${id}/dispute`).then((x) => { data.dispute = x; }).catch((e) => {
        if (e instanceof ApiError && e.status === 404) data.dispute = null; else throw e;
      }));
    }
    await Promise.all(jobs);
    data.helper = b.helper_id ? helperNames.get(b.helper_id) ?? null : null;
  }

  // A payment answers with the new receipt: no need to fetch it again.
  function paid(receipt) {
    data.receipt = receipt;
    receiptFor = `${receipt.payment_method}|${receipt.paid_at}`;
  }

  function loadMessages() {
    return api(`/v1/bookings/${id}/messages?limit=100`).then((p) => { data.messages = p.items; }).catch(() => {});
  }

  async function loadInvoice() {
    const res = await api(`/v1/bookings/${id}/invoice`, { raw: true });
    const html = await res.text();
    // The page's own <style> would only trip this page's CSP while parsing; the QR code needs none.
    const doc = new DOMParser().parseFromString(html.replace(/<style[\s\S]*?<\/style>/gi, ''), 'text/html');
    const svg = doc.querySelector('svg');
    const text = doc.body.textContent || '';
    const account = /Account:\s*([A-Z]{2}[0-9A-Z ]+?)\s*(?:Reference|$)/.exec(text)?.[1]?.trim() ?? '';
    const reference = /Reference:\s*([A-Z0-9 ]+?)\s*(?:Amount|$)/.exec(text)?.[1]?.trim() ?? '';
    const creditor = doc.querySelector('p strong')?.textContent ?? '';
    const qr = svg ? `data:image/svg+xml;charset=utf-8,${encodeURIComponent(new XMLSerializer().serializeToString(svg))}` : null;
    const groups = (x) => x.replace(/\s/g, '').replace(/(.{4})/g, '$1 ').trim(); // IBANs and references are read in fours
    return { html, qr, account: groups(account), reference: groups(reference), creditor };
  }

  async function act(btn, body, doneKey) {
    await busy(btn, async () => {
      await api(`/v1/bookings/${id}/transitions`, { method: 'POST', body });
      await refresh();
      if (doneKey) say(t(doneKey));
    });
  }

  // Rebuilds the page, keeping focus and open <details> where they were.
  function draw() {
    if (signal.aborted || !data.booking) return;
    shown = fingerprint();
    const focusedId = document.activeElement?.id;
    const open = $$('details[open]', view).map((x) => x.id).filter(Boolean);
    const drafts = Object.fromEntries($$('textarea,input[type=text]', view).filter((x) => x.id && x.value).map((x) => [x.id, x.value]));
    view.replaceChildren(...page());
    for (const x of open) { const el = document.getElementById(x); if (el) el.open = true; }
    for (const [k, v] of Object.entries(drafts)) { const el = document.getElementById(k); if (el && !el.value) el.value = v; }
    if (focusedId) document.getElementById(focusedId)?.focus({ preventScroll: true });
  }

  // Redraws only when something changed, so a poll does not disturb what the customer is doing.
  let shown = '';
  const fingerprint = () => JSON.stringify([data.booking, data.helper, data.messages, data.receipt, data.reviews, data.dispute, !!data.invoice]);
  async function refresh({ messagesOnly = false } = {}) {
    if (messagesOnly && data.booking?.helper_id) await loadMessages(); else await loadAll();
    if (signal.aborted) return;
    const now = fingerprint();
    if (now === shown) return;
    shown = now;
    draw();
  }

  function statusPanel(b) {
    const rows = [
      [t('booking.when'), formatDateTime(b.starts_at, { dateStyle: 'full', timeStyle: 'short' })
        + ' – ' + formatTime(b.ends_at)],
      [t('booking.where'), b.address ?? ''],
      [t('booking.helper'), data.helper
        ? h('span', {}, h('a', { href: `#/helpers/${b.helper_id}`, id: 'booking-helper' }, data.helper.name),
          data.helper.level ? h('span', { class: `c-level-badge small level-${data.helper.level}` }, t(`level.${data.helper.level}`)) : null)
        : t('booking.helper_pending')],
      [t('booking.price'), formatMoney(b.price)],
    ];
    if (b.completed_at) rows.push([t('booking.completed'), formatDateTime(b.completed_at)]);
    return h('section', { class: 'panel c-section', 'aria-labelledby': 'booking-status' },
      h('h2', { id: 'booking-status' }, t('booking.status')),
      h('p', { class: 'c-state', id: 'booking-state', 'data-state': b.state }, stateBadge(b.state)),
      h('p', { id: 'booking-next', 'aria-live': 'polite' }, t(`next.${b.state}`)),
      h('dl', { class: 'c-details' }, ...rows.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))),
      h('details', { id: 'price-details' }, h('summary', {}, t('booking.breakdown')), quoteTable(b.price_breakdown, b.price, { slug: b.service, name: b.service_name })));
  }

  function codesPanel(b) {
    if (!b.start_code) return null;
    return h('section', { class: 'panel c-section c-codes', 'aria-labelledby': 'codes-title' },
      h('h2', { id: 'codes-title' }, t('codes.title')),
      h('div', { class: 'c-code-row' },
        h('p', {}, t('codes.start')),
        h('p', { class: 'c-code', id: 'start-code' }, b.start_code)),
      b.signoff_code ? h('div', { class: 'c-code-row' },
        h('p', {}, t('codes.signoff')),
        h('p', { class: 'c-code', id: 'signoff-code' }, b.signoff_code)) : h('p', { class: 'hint' }, t('codes.signoff_later')));
  }

  function pendingPanel(b) {
    const out = [];
    if (b.pending_extra_units && b.state === 'on_site') {
      const unit = b.price_breakdown.find((l) => l.kind === 'extra_units');
      const approve = button('change.approve', { id: 'approve-change' });
      const reject = button('change.reject', { id: 'reject-change' }, 'button secondary');
      approve.addEventListener('click', () => act(approve, { action: 'approve_change' }, 'change.approved'));
      reject.addEventListener('click', () => act(reject, { action: 'reject_change' }, 'change.rejected'));
      out.push(h('section', { class: 'panel c-section c-attention', 'aria-labelledby': 'change-title' },
        h('h2', { id: 'change-title' }, t('change.title')),
        h('p', {}, t('change.text', { minutes: b.pending_extra_units * 30 })),
        unit ? null : h('p', { class: 'hint' }, t('change.price_hint')),
        h('div', { class: 'c-actions' }, approve, reject)));
    }
    if (b.pending_start && PLANNED.includes(b.state)) {
      const when = formatDateTime(b.pending_start, { dateStyle: 'full', timeStyle: 'short' });
      if (b.pending_by === 'helper') {
        const yes = button('resched.accept', { id: 'accept-reschedule' });
        const no = button('resched.decline', { id: 'decline-reschedule' }, 'button secondary');
        yes.addEventListener('click', () => act(yes, { action: 'accept_reschedule' }, 'resched.accepted'));
        no.addEventListener('click', () => act(no, { action: 'decline_reschedule' }, 'resched.declined'));
        out.push(h('section', { class: 'panel c-section c-attention', 'aria-labelledby': 'resched-title' },
          h('h2', { id: 'resched-title' }, t('resched.title')),
          h('p', {}, t('resched.helper_asks', { when })),
          h('div', { class: 'c-actions' }, yes, no)));
      } else {
        out.push(h('p', { class: 'panel c-section' }, t('resched.waiting', { when })));
      }
    }
    return out;
  }

  function actionsPanel(b) {
    const parts = [];
    if (PLANNED.includes(b.state) && !b.pending_start) {
      const start = zurichParts(new Date(b.starts_at));
      const date = h('input', { type: 'date', id: 'resched-date', required: true, value: start.date });
      const time = h('input', { type: 'time', id: 'resched-time', step: '900', required: true, value: start.time });
      const send = h('button', { type: 'submit', class: 'button secondary' }, t('resched.propose'));
      const form = h('form', { class: 'form', novalidate: true }, h('div', { class: 'field-row' }, field('book.date', date), field('book.time', time)), send);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        if (!date.value || !time.value) { showError(t('form.check', { field: t('book.date') })); return; }
        act(send, { action: 'reschedule', start: zurichToIso(`${date.value}T${time.value}`) }, 'resched.sent');
      });
      parts.push(h('details', { id: 'resched-details', class: 'c-more' }, h('summary', {}, t('resched.other_time')), form));
    }
    const late = Date.now() > new Date(b.starts_at).getTime() + 15 * 60_000;
    if (['accepted', 'confirmed', 'en_route'].includes(b.state) && late) {
      const noShow = button('noshow.button', { id: 'mark-no-show' }, 'button secondary');
      noShow.addEventListener('click', () => act(noShow, { action: 'mark_no_show' }, 'noshow.done'));
      parts.push(h('div', { class: 'c-actions' }, h('p', {}, t('noshow.text')), noShow));
    }
    if (CANCELLABLE.includes(b.state)) {
      const reason = h('input', { type: 'text', id: 'cancel-reason', maxlength: '500' });
      const go = h('button', { type: 'submit', class: 'button c-danger', id: 'cancel-booking' }, t('cancel.button'));
      const form = h('form', { class: 'form', novalidate: true }, h('p', {}, t('cancel.text')), field('cancel.reason', reason), go);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        act(go, { action: 'cancel', ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) }, 'cancel.done');
      });
      parts.push(h('details', { id: 'cancel-details', class: 'c-more' }, h('summary', {}, t('cancel.title')), form));
    }
    if (!parts.length) return null;
    return section('booking.change', ...parts);
  }

  function paymentPanel(b) {
    if (b.state !== 'done') return null;
    const r = data.receipt;
    const total = r?.total ?? b.price;
    const children = [];
    if (!b.payment_method) {
      const invoice = button('pay.invoice', { id: 'pay-invoice' });
      const card = button('pay.card', { id: 'pay-card' }, 'button secondary');
      invoice.addEventListener('click', () => busy(invoice, async () => {
        paid(await api(`/v1/bookings/${id}/payment`, { method: 'POST', body: { method: 'invoice' } }));
        await refresh();
        say(t('pay.invoice_ready'));
        $('#invoice-title')?.focus();
      }));
      card.addEventListener('click', () => busy(card, async () => {
        paid(await api(`/v1/bookings/${id}/payment`, { method: 'POST', body: { method: 'card' } }));
        await refresh();
        say(t('pay.paid'));
      }));
      children.push(h('p', {}, t('pay.choose', { price: formatMoney(total) })),
        h('div', { class: 'c-actions' }, invoice, card),
        h('p', { class: 'hint' }, t('pay.cash')));
    }
    if (b.payment_method === 'invoice' && data.invoice) {
      const inv = data.invoice;
      const save = button('pay.download', { id: 'download-invoice' }, 'button secondary');
      save.addEventListener('click', () => download(`quartier-invoice-${id}.html`, new Blob([inv.html], { type: 'text/html' })));
      children.push(h('div', { class: 'c-invoice', id: 'invoice' },
        h('h3', { id: 'invoice-title', tabindex: '-1' }, t('pay.invoice_title')),
        h('p', {}, t('pay.invoice_text')),
        inv.qr ? h('img', { class: 'c-qr', id: 'qr-bill', src: inv.qr, alt: t('pay.qr_alt', { price: formatMoney(total) }) }) : null,
        h('dl', { class: 'c-details' },
          h('div', {}, h('dt', {}, t('pay.creditor')), h('dd', {}, inv.creditor)),
          h('div', {}, h('dt', {}, t('pay.account')), h('dd', { class: 'c-mono' }, inv.account)),
          h('div', {}, h('dt', {}, t('pay.reference')), h('dd', { class: 'c-mono' }, inv.reference)),
          h('div', {}, h('dt', {}, t('pay.amount')), h('dd', {}, formatMoney(total)))),
        save));
    }
    // The receipt: what was paid and how comes with the booking, the lines with the receipt.
    const method = b.payment_method ? t(`pay.method_${b.payment_method}`) : t('pay.open');
    children.push(h('div', { class: 'c-receipt', id: 'receipt' },
      h('h3', {}, t('pay.receipt')),
      r ? quoteTable(r.lines, r.total, { slug: b.service, name: b.service_name }) : null,
      h('dl', { class: 'c-details' },
        h('div', {}, h('dt', {}, t('pay.method')), h('dd', {}, method)),
        r?.received ? h('div', {}, h('dt', {}, t('pay.received')), h('dd', {}, formatMoney(r.received))) : null,
        h('div', {}, h('dt', {}, t('pay.status')), h('dd', { id: 'paid-status' }, b.paid_at ? t('pay.paid_at', { when: formatDateTime(b.paid_at) }) : t('pay.unpaid'))))));
    return section('pay.title', ...children);
  }

  function reviewPanel(b) {
    if (b.state !== 'done' || !data.reviews) return null;
    const mine = data.reviews.items.find((r) => r.author === 'customer');
    const theirs = data.reviews.items.find((r) => r.author === 'helper');
    const children = [];
    if (mine) {
      children.push(h('p', { id: 'my-review' }, t('review.yours', { n: mine.rating }), mine.text ? ` «${mine.text}»` : ''));
    } else {
      const stars = h('fieldset', { class: 'c-stars' }, h('legend', {}, t('review.rating')),
        ...[1, 2, 3, 4, 5].map((n) => {
          const input = h('input', { type: 'radio', name: 'rating', value: String(n), id: `rating-${n}`, required: true });
          return h('label', { for: input.id, class: 'c-star' }, input, h('span', {}, t(`review.star${n}`)));
        }));
      const text = h('textarea', { id: 'review-text', name: 'text', rows: '3', maxlength: '2000' });
      const send = h('button', { type: 'submit', class: 'button', id: 'send-review' }, t('review.send'));
      const form = h('form', { class: 'form', novalidate: true }, stars, field('review.text', text), send);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const rating = Number(form.elements.rating.value);
        if (!rating) { showError(t('review.need_rating')); $('#rating-5')?.focus(); return; }
        busy(send, async () => {
          await api(`/v1/bookings/${id}/review`, { method: 'POST', body: { rating, text: text.value.trim() } });
          await refresh();
          say(t('review.thanks'));
        });
      });
      children.push(h('p', {}, t('review.lead')), form);
    }
    if (theirs) children.push(h('p', {}, t('review.theirs', { n: theirs.rating }), theirs.text ? ` «${theirs.text}»` : ''));
    else if (data.reviews.hidden_from_you) children.push(h('p', { class: 'hint' }, t('review.hidden')));
    return section('review.title', ...children);
  }

  function disputePanel(b) {
    if (!DISPUTABLE.includes(b.state)) return null;
    const x = data.dispute;
    if (!x) {
      const reason = h('select', { id: 'dispute-reason', name: 'reason', required: true },
        h('option', { value: '' }, t('dispute.choose')),
        ...REASONS.map((r) => h('option', { value: r }, t(`dispute.reason_${r}`))));
      const text = h('textarea', { id: 'dispute-text', rows: '4', maxlength: '4000', required: true });
      const send = h('button', { type: 'submit', class: 'button', id: 'open-dispute' }, t('dispute.open'));
      const form = h('form', { class: 'form', novalidate: true }, field('dispute.reason', reason), field('dispute.text', text, 'dispute.text_hint'), send);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        if (!reason.value) { showError(t('form.check', { field: t('dispute.reason') })); reason.focus(); return; }
        if (!text.value.trim()) { showError(t('form.check', { field: t('dispute.text') })); text.focus(); return; }
        busy(send, async () => {
          data.dispute = await api(`/v1/bookings/${id}/dispute`, { method: 'POST', body: { reason: reason.value, text: text.value.trim() } });
          draw();
          say(t('dispute.opened'));
        });
      });
      return h('section', { class: 'panel c-section', 'aria-labelledby': 'dispute-title' },
        h('details', { id: 'dispute-details' },
          h('summary', {}, h('h2', { id: 'dispute-title', class: 'c-inline' }, t('dispute.title'))),
          h('p', {}, t('dispute.lead')), form));
    }
    const rows = [
      [t('dispute.status'), t(`dispute.status_${x.status}`)],
      [t('dispute.reason'), t(`dispute.reason_${x.reason}`)],
      [t('dispute.opened_at'), formatDateTime(x.opened_at)],
    ];
    if (x.status === 'resolved') {
      rows.push([t('dispute.outcome'), x.outcome ? t(`dispute.outcome_${x.outcome}`) : '']);
      if (x.refund_rappen) rows.push([t('dispute.refund'), moneyOf(x.refund_rappen)]);
      if (x.decision_note) rows.push([t('dispute.note'), x.decision_note]);
    }
    const children = [h('dl', { class: 'c-details', id: 'dispute-summary' }, ...rows.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))))];
    if (x.text) children.push(h('p', {}, h('strong', {}, t('dispute.text')), ' ', x.text));
    if (x.customer_statement) children.push(h('p', {}, h('strong', {}, t('dispute.your_statement')), ' ', x.customer_statement));
    if (x.helper_statement) children.push(h('p', {}, h('strong', {}, t('dispute.helper_statement')), ' ', x.helper_statement));
    const photos = h('ul', { class: 'c-photos', role: 'list' });
    for (const p of x.photos || []) {
      const img = h('img', { alt: t('dispute.photo_alt'), class: 'c-photo' });
      photos.append(h('li', {}, img));
      const cached = data.photos[p.id];
      if (cached) img.src = cached;
      else {
        api(p.url, { raw: true }).then((r) => r.blob()).then(blobToDataUrl).then((url) => { data.photos[p.id] = url; img.src = url; })
          .catch(() => { img.alt = t('dispute.photo_failed'); });
      }
    }
    if (x.photos?.length) children.push(h('h3', {}, t('dispute.photos')), photos);
    if (x.status === 'open') {
      const st = h('textarea', { id: 'statement-text', rows: '3', maxlength: '4000' });
      const send = h('button', { type: 'submit', class: 'button secondary', id: 'send-statement' }, t('dispute.send_statement'));
      const form = h('form', { class: 'form', novalidate: true }, field('dispute.statement', st), send);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        if (!st.value.trim()) { st.focus(); return; }
        busy(send, async () => {
          await api(`/v1/disputes/${x.id}/statement`, { method: 'POST', body: { text: st.value.trim() } });
          st.value = '';
          data.dispute = await api(`/v1/bookings/${id}/dispute`);
          draw();
          say(t('dispute.statement_sent'));
        });
      });
      children.push(form);
      if ((x.photos?.length ?? 0) < 5) {
        const file = h('input', { type: 'file', id: 'dispute-photo', accept: 'image/jpeg,image/png,image/webp' });
        const up = h('button', { type: 'submit', class: 'button secondary', id: 'upload-photo' }, t('dispute.upload'));
        const pform = h('form', { class: 'form', novalidate: true }, field('dispute.photo', file, 'dispute.photo_hint'), up);
        pform.addEventListener('submit', (e) => {
          e.preventDefault();
          const f = file.files?.[0];
          if (!f) { showError(t('dispute.photo_missing')); file.focus(); return; }
          if (f.size > 5 * 1024 * 1024) { showError(t('dispute.photo_big')); return; }
          busy(up, async () => {
            await api(`/v1/disputes/${x.id}/photos`, { method: 'POST', form: f });
            data.dispute = await api(`/v1/bookings/${id}/dispute`);
            draw();
            say(t('dispute.photo_sent'));
          });
        });
        children.push(pform);
      }
    }
    return section('dispute.title', ...children);
  }

  function messagesPanel(b) {
    if (!b.helper_id) return null;
    const list = data.messages.length
      ? h('ol', { class: 'c-messages', id: 'messages', 'aria-live': 'polite' }, ...data.messages.map((m) => h('li', { class: `c-msg c-msg-${m.author}` },
        h('p', { class: 'c-msg-meta' }, t(`author.${m.author}`), ' · ', formatDateTime(m.at)),
        h('p', { class: 'c-msg-body' }, m.body))))
      : h('p', { class: 'status', id: 'messages' }, t('msg.none'));
    const text = h('textarea', { id: 'message-text', rows: '2', maxlength: '2000', required: true });
    const send = h('button', { type: 'submit', class: 'button', id: 'send-message' }, t('msg.send'));
    const form = h('form', { class: 'form', novalidate: true }, field('msg.label', text), send);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const body = text.value.trim();
      if (!body) { text.focus(); return; }
      busy(send, async () => {
        await api(`/v1/bookings/${id}/messages`, { method: 'POST', body: { body } });
        text.value = '';
        await refresh();
        $('#message-text')?.focus();
      });
    });
    return section('msg.title', list, form);
  }

  function timelinePanel(b) {
    if (!b.timeline?.length) return null;
    return h('section', { class: 'panel c-section', 'aria-labelledby': 'timeline-title' },
      h('details', { id: 'timeline-details' },
        h('summary', {}, h('h2', { id: 'timeline-title', class: 'c-inline' }, t('timeline.title'))),
        h('ol', { class: 'c-timeline' }, ...b.timeline.map((e) => h('li', {},
          h('span', { class: 'c-when' }, formatDateTime(e.at)), ' ',
          t(`action.${e.action}`) === `action.${e.action}` ? e.action : t(`action.${e.action}`),
          ' ', h('span', { class: 'hint' }, `(${t(`author.${e.actor}`)})`),
          e.note ? h('span', {}, ` – ${e.note}`) : null)))));
  }

  function page() {
    const b = data.booking;
    return [
      h('p', { class: 'c-back' }, h('a', { href: '#/bookings' }, t('booking.back'))),
      h('h1', {}, serviceName({ slug: b.service, name: b.service_name })),
      h('div', { class: 'c-booking' },
        h('div', { class: 'c-col' }, statusPanel(b), codesPanel(b), ...pendingPanel(b), paymentPanel(b), reviewPanel(b), actionsPanel(b)),
        h('div', { class: 'c-col' }, messagesPanel(b), disputePanel(b), timelinePanel(b))),
    ];
  }

  // Live: the event stream brings a notice for every step of this booking (those without an
  // e-mail too: the helper's arrival, answers to a change) and for every new message from the
  // helper. A notice reloads the booking at once (a message only the conversation). Started
  // before the first load, so nothing that happens meanwhile is missed. A slow look every
  // minute while the visit is under way is only a fallback for a stream that is down.
  let pending = null;
  let messagesOnly = true;
  let scheduled = 0;
  let running = Promise.resolve(); // one refresh at a time, in order
  const soon = (delay = 150, { all = true } = {}) => {
    if (all) messagesOnly = false;
    clearTimeout(pending);
    const mine = ++scheduled;
    pending = setTimeout(async () => {
      const onlyMessages = messagesOnly;
      messagesOnly = true;
      if (signal.aborted) return;
      // A hidden page catches up when it is shown again (visibilitychange below).
      if (document.visibilityState === 'visible') {
        running = running.then(() => refresh({ messagesOnly: onlyMessages })).catch(() => {});
        await running;
      }
      if (mine !== scheduled) return; // a notice came meanwhile: its refresh is on the way
      const live = ['offered', 'requested', 'accepted', 'confirmed', 'en_route', 'on_site'].includes(data.booking?.state);
      soon(live ? 60_000 : 5 * 60_000);
    }, delay);
  };
  stream((ev) => {
    if (ev.type !== 'notification' || (ev.data?.booking_id && ev.data.booking_id !== id)) return;
    soon(150, { all: ev.data?.kind !== 'message' });
  }, { signal });
  const onVisible = () => { if (document.visibilityState === 'visible') soon(); };
  document.addEventListener('visibilitychange', onVisible);
  signal.addEventListener('abort', () => { clearTimeout(pending); document.removeEventListener('visibilitychange', onVisible); });

  await refresh();
  current.rerender = draw;
  soon(60_000);
}

/* ---------- account ---------- */

async function accountView() {
  if (!requireCustomer()) return;
  const draw = () => {
    const langSel = h('select', { id: 'mail-lang' }, ...['de', 'fr', 'it', 'en'].map((l) => h('option', { value: l, selected: me.locale === l }, t(`lang.${l}`))));
    const saveLang = h('button', { type: 'submit', class: 'button secondary', id: 'save-locale' }, t('account.save'));
    const langForm = h('form', { class: 'form', novalidate: true }, field('account.mail_lang', langSel, 'account.mail_lang_hint'), saveLang);
    langForm.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(saveLang, async () => {
        me = await api('/v1/me', { method: 'PATCH', body: { locale: langSel.value } });
        say(t('account.saved'));
      });
    });

    const exportBtn = button('account.export', { id: 'export-data' }, 'button secondary');
    exportBtn.addEventListener('click', () => busy(exportBtn, async () => {
      const dataJson = await api('/v1/me/export');
      download('quartier-my-data.json', new Blob([JSON.stringify(dataJson, null, 2)], { type: 'application/json' }));
      say(t('account.exported'));
    }));

    const sure = h('input', { type: 'checkbox', id: 'delete-sure' });
    const del = h('button', { type: 'submit', class: 'button c-danger', id: 'delete-account' }, t('account.delete'));
    const delForm = h('form', { class: 'form', novalidate: true },
      h('p', {}, t('account.delete_text')),
      h('div', { class: 'c-check' }, sure, h('label', { for: 'delete-sure' }, t('account.delete_sure'))),
      del);
    delForm.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!sure.checked) { showError(t('account.delete_confirm')); sure.focus(); return; }
      busy(del, async () => {
        await api('/v1/me', { method: 'DELETE' });
        clearTokens();
        me = null;
        updateHeader();
        location.hash = '#/';
        say(t('account.deleted'));
      });
    });

    const out = button('account.signout', { id: 'sign-out' }, 'button secondary');
    out.addEventListener('click', () => busy(out, async () => {
      await logout();
      me = null;
      updateHeader();
      location.hash = '#/';
      say(t('account.signed_out'));
    }));

    view.replaceChildren(
      h('h1', {}, t('account.title')),
      h('div', { class: 'c-flow' },
        section('account.you',
          h('dl', { class: 'c-details' },
            h('div', {}, h('dt', {}, t('auth.name')), h('dd', { id: 'me-name' }, me.name)),
            h('div', {}, h('dt', {}, t('auth.email')), h('dd', {}, me.email))),
          out),
        section('account.mail_lang', langForm),
        section('account.data', h('p', {}, t('account.export_text')), exportBtn),
        h('section', { class: 'panel c-section', 'aria-labelledby': 'delete-title' },
          h('details', { id: 'delete-details' },
            h('summary', {}, h('h2', { id: 'delete-title', class: 'c-inline' }, t('account.delete_title'))),
            delForm))));
  };
  draw();
  current.rerender = draw;
}

/* ---------- start ---------- */

$('#lang-slot').replaceWith(langSwitch());
translatePage();
loadMe().catch(() => {}).finally(() => {
  updateHeader();
  render({ focus: false });
});
