// The operators' console: sign-in (operators only), navigation between the sections, and the
// language switch. Each section lives in its own module (ops-*.js) and draws into #view.
import {
  $, $$, h, t, api, login, logout, signedIn, clearTokens, langSwitch, translatePage, onLangChange, messageOf,
} from '/common.js';
import '/ops-strings.js';
import * as vetting from '/ops-vetting.js';
import * as disputes from '/ops-disputes.js';
import * as bookings from '/ops-bookings.js';
import * as kpis from '/ops-kpis.js';
import * as coverage from '/ops-coverage.js';
import * as outbox from '/ops-outbox.js';
import * as audit from '/ops-audit.js';
import * as contests from '/ops-contests.js';
import * as superhelpers from '/ops-superhelpers.js';

const SECTIONS = { vetting, disputes, contests, bookings, kpis, coverage, superhelpers, outbox, audit };
const DEFAULT = 'vetting';

const els = {
  nav: $('#nav'), view: $('#view'), signin: $('#signin'), signinForm: $('#signin-form'), signinError: $('#signin-error'),
  denied: $('#denied'), deniedText: $('#denied-text'), who: $('#who'), signout: $('#signout'), main: $('#main'),
};

let me = null;
let renderSeq = 0;

function route() {
  const [name, ...rest] = (window.location.hash || '').replace(/^#\/?/, '').split('/');
  const section = SECTIONS[name] ? name : DEFAULT;
  return { section, args: SECTIONS[name] ? rest.map(decodeURIComponent) : [] };
}

// Draws the section of the current address. `focus`: move focus to its heading (after the
// operator navigated), so keyboard and screen-reader users land on the new content.
async function show({ focus = false } = {}) {
  if (!me) return;
  const { section, args } = route();
  for (const a of $$('a[data-view]', els.nav)) {
    if (a.dataset.view === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const mine = (renderSeq += 1);
  const container = h('div', { class: 'view', 'data-section': section });
  els.view.replaceChildren(container);
  document.title = `${t(`nav.${section}`)} – Quartier ${t('ops.console')}`;
  try {
    await SECTIONS[section].render(container, args, { me, stale: () => mine !== renderSeq });
  } catch (err) {
    if (mine !== renderSeq) return;
    if (err.status === 401) { window.dispatchEvent(new CustomEvent('ops:signed-out')); return; }
    container.append(h('div', { class: 'error', role: 'alert' }, messageOf(err)));
  }
  if (focus && mine === renderSeq) $('h1', container)?.focus();
}

function signedOut() {
  me = null;
  els.nav.hidden = true;
  els.view.replaceChildren();
  els.denied.hidden = true;
  els.signout.hidden = true;
  els.who.textContent = '';
  els.signin.hidden = false;
  document.title = `Quartier – ${t('ops.console')}`;
}

async function start() {
  if (!signedIn()) { signedOut(); return; }
  let user;
  try {
    user = await api('/v1/me');
  } catch (err) {
    if (err.status === 401) { clearTokens(); signedOut(); els.signinError.textContent = t('signin.expired'); return; }
    signedOut();
    els.signinError.textContent = messageOf(err);
    return;
  }
  els.signin.hidden = true;
  els.signout.hidden = false;
  els.who.textContent = t('ops.signed_in_as', { name: user.name });
  if (user.role !== 'operator') {
    me = null;
    els.nav.hidden = true;
    els.view.replaceChildren();
    els.denied.hidden = false;
    els.deniedText.textContent = t('denied.text', { role: t(`role.${user.role}`) });
    $('#denied-title').focus();
    return;
  }
  me = user;
  els.denied.hidden = true;
  els.nav.hidden = false;
  await show();
}

els.signinForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  els.signinError.textContent = '';
  const email = els.signinForm.email.value.trim();
  const password = els.signinForm.password.value;
  if (!email || !password) {
    els.signinError.textContent = t('signin.missing');
    (email ? els.signinForm.password : els.signinForm.email).focus();
    return;
  }
  const button = $('button[type=submit]', els.signinForm);
  button.disabled = true;
  try {
    await login(email, password);
    els.signinForm.reset();
    await start();
    if (me) $('h1', els.view)?.focus();
  } catch (err) {
    els.signinError.textContent = err.status === 401 ? t('signin.wrong') : messageOf(err);
  } finally {
    button.disabled = false;
  }
});

els.signout.addEventListener('click', async () => {
  await logout();
  signedOut();
  els.signinForm.email.focus();
});

window.addEventListener('hashchange', () => show({ focus: true }));
window.addEventListener('ops:signed-out', () => {
  clearTokens();
  signedOut();
  els.signinError.textContent = t('signin.expired');
  els.signinForm.email.focus();
});

onLangChange(() => {
  if (me) {
    els.who.textContent = t('ops.signed_in_as', { name: me.name });
    show();
  } else if (!els.denied.hidden) start();
});

$('#lang-slot').append(langSwitch());
translatePage();
start();
