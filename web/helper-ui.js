// Small building blocks shared by the helper app's views: labelled fields, busy buttons, error
// boxes, the toast and the online state. Vanilla ES module.
import { $, h, t, messageOf, ApiError } from './common.js';

let uid = 0;
export const nextId = (prefix = 'f') => `${prefix}-${++uid}`;

// A labelled input: field('Email', {type: 'email', name: 'email'}) → <div class=field><label/><input/></div>.
export function field(label, attrs = {}, hint) {
  const id = attrs.id || nextId(attrs.name || 'f');
  const hintId = hint ? `${id}-hint` : null;
  const tag = attrs.tag || 'input';
  const { tag: _ignored, options, value, ...rest } = attrs;
  const control = h(tag, { ...rest, id, 'aria-describedby': hintId });
  if (tag === 'select' && options) {
    for (const [v, text] of options) control.append(h('option', { value: v }, text));
  }
  if (value != null) control.value = value;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

// A box that shows an error (role=alert so screen readers hear it).
export function errorBox() {
  return h('div', { class: 'error', role: 'alert', 'aria-atomic': 'true' });
}

// A sentence for an error: the translated text for the problem's code when there is one, else
// the server's detail, else the network/generic message.
export function errorText(err) {
  if (typeof err === 'string') return err;
  if (err instanceof ApiError && err.code) {
    const key = `err.${err.code}`;
    const text = t(key);
    return text !== key ? text : err.message;
  }
  if (err instanceof ApiError || err instanceof TypeError) return messageOf(err);
  return err?.message || t('error.generic');
}

export function showError(box, err) {
  box.textContent = err ? errorText(err) : '';
}

// Runs fn with the button disabled and aria-busy; errors go to the box (or are rethrown).
export async function busy(button, fn, box) {
  if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); }
  if (box) showError(box, null);
  try {
    return await fn();
  } catch (err) {
    if (box) showError(box, err); else throw err;
    return undefined;
  } finally {
    if (button) { button.disabled = false; button.removeAttribute('aria-busy'); }
  }
}

let toastTimer = null;
export function toast(text) {
  const el = $('#toast');
  if (!el) return;
  el.textContent = text;
  el.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.classList.remove('show'); el.textContent = ''; }, 4000);
}

// Online state: navigator.onLine plus the last request's fate.
let offline = !navigator.onLine;
const offlineListeners = [];
export const isOffline = () => offline;
export function onOfflineChange(fn) { offlineListeners.push(fn); }
export function setOffline(value) {
  const changed = offline !== value;
  offline = value;
  const banner = $('#offline-banner');
  if (banner) banner.hidden = !offline;
  document.body.classList.toggle('is-offline', offline);
  if (changed) for (const fn of offlineListeners) fn(offline);
}
window.addEventListener('online', () => setOffline(false));
window.addEventListener('offline', () => setOffline(true));

export const isNetworkError = (err) => err instanceof TypeError;
export const isCode = (err, code) => err instanceof ApiError && err.code === code;

// A section with a heading: section('Title', ...children).
export function section(title, ...children) {
  const id = nextId('sec');
  return h('section', { class: 'panel card-section', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

// Names of states and causes, translated.
export const stateName = (s) => t(`state.${s}`);

// A list of <option>s for quarter hours 00:00 … 24:00.
export function quarterHours(from = 0, to = 24 * 60) {
  const out = [];
  for (let m = from; m <= to; m += 15) {
    const v = `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    out.push([v, v]);
  }
  return out;
}

// Zurich's calendar date of an instant, YYYY-MM-DD.
export function zurichDate(d = new Date()) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Zurich', year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}
