// Small building blocks shared by the operators' console sections: headings, alerts, tables that
// stack into cards on a phone, money and share formatting, CHF input parsing.
import { h, t, ApiError, messageOf, formatDateTime, locale } from '/common.js';

let seq = 0;
export const uid = (prefix = 'ops') => `${prefix}-${(seq += 1)}`;

// A section of the console: an <h1> (focusable, so navigation can move focus to it) and content.
export function sectionHead(titleKey, introKey) {
  const id = uid('title');
  const head = [h('h1', { id, tabindex: '-1', class: 'view-title' }, t(titleKey))];
  if (introKey) head.push(h('p', { class: 'lead' }, t(introKey)));
  return head;
}

// An alert region for errors (role=alert: read out when filled).
export const alertBox = () => h('div', { class: 'error', role: 'alert', 'aria-atomic': 'true' });
// A polite status line for success messages and loading.
export const statusBox = () => h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });

// True when the endpoint itself is missing (an older server), not a missing record.
export function endpointMissing(err) {
  return err instanceof ApiError && (err.status === 405 || (err.status === 404 && /^There is nothing at/.test(err.problem?.detail || '')));
}

// Shows an API error in an alert box: the server's own text (problem detail) and its code.
export function showError(box, err) {
  if (err instanceof ApiError && err.status === 401) {
    // The session ended (refresh token expired or revoked): back to the sign-in form.
    window.dispatchEvent(new CustomEvent('ops:signed-out'));
    return;
  }
  if (endpointMissing(err)) {
    box.textContent = t('ops.not_available');
    return;
  }
  const code = err instanceof ApiError && err.code ? ` (${err.code})` : '';
  box.textContent = messageOf(err) + code;
}
export const clear = (...boxes) => boxes.forEach((b) => { b.textContent = ''; });

// The "this part needs a newer server" notice.
export const notAvailable = () => h('p', { class: 'notice', role: 'status' }, t('ops.not_available'));

/* ---------- formatting ---------- */

export const fmtDate = (iso) => (iso ? formatDateTime(iso) : '–');
export function fmtShare(v, digits = 1) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: digits }).format(v);
}
export function fmtNumber(v, digits = 0) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(v);
}
export function fmtRappen(r) {
  if (typeof r !== 'number') return '–';
  return new Intl.NumberFormat('de-CH', { style: 'currency', currency: 'CHF' }).format(r / 100);
}
// Money may come as {amount_rappen, currency} or as plain Rappen.
export function fmtMoneyAny(m) {
  if (m && typeof m === 'object') return fmtRappen(m.amount_rappen);
  return fmtRappen(m);
}

// "12.50", "12,50", "12", "CHF 12.–" → 1250 Rappen; null when not a positive amount with at most 2 decimals.
export function parseChf(text) {
  const cleaned = String(text || '').replace(/CHF|Fr\.|[\s'’]/gi, '').replace(/[.,]–$/, '').replace(',', '.');
  if (!/^\d+(\.\d{1,2})?$/.test(cleaned)) return null;
  const [whole, frac = ''] = cleaned.split('.');
  return Number(whole) * 100 + Number((frac + '00').slice(0, 2));
}

// Status words from the API (e.g. `cancelled_by_customer`) through t() with a readable fallback.
export function word(prefix, value) {
  if (value == null) return '–';
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? String(value).replaceAll('_', ' ') : text;
}

/* ---------- tables ---------- */

// A table whose rows become labelled cards on narrow screens (CSS uses td[data-label]).
// columns: [{key, label, render?(row) → node|string, num?: bool, sort?: (row) → value}]
// opts: {caption, sortable: bool, sortKey, sortDir, onSort(key, dir), rowClass(row)}
export function table(columns, rows, opts = {}) {
  const thead = h('thead', {}, h('tr', {}, ...columns.map((c) => {
    const attrs = { scope: 'col', class: c.num ? 'num' : null };
    if (opts.sortable && c.sort) {
      const active = opts.sortKey === c.key;
      attrs['aria-sort'] = active ? (opts.sortDir === 'asc' ? 'ascending' : 'descending') : 'none';
      const next = active && opts.sortDir === 'desc' ? 'asc' : 'desc';
      return h('th', attrs, h('button', {
        type: 'button', class: 'sort', onclick: () => opts.onSort?.(c.key, active ? next : (c.num ? 'desc' : 'asc')),
      }, c.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (opts.sortDir === 'asc' ? ' ▲' : ' ▼') : ' ↕')));
    }
    return h('th', attrs, c.label);
  })));
  const tbody = h('tbody', {}, ...rows.map((row) => h('tr', { class: opts.rowClass?.(row) || null }, ...columns.map((c, i) => {
    const value = c.render ? c.render(row) : row[c.key];
    const cell = h(i === 0 && opts.rowHeader !== false ? 'th' : 'td', {
      class: c.num ? 'num' : null, 'data-label': c.label, scope: i === 0 && opts.rowHeader !== false ? 'row' : null,
    });
    cell.append(value == null || value === '' ? '–' : value);
    return cell;
  }))));
  return h('table', { class: 'data' }, opts.caption ? h('caption', {}, opts.caption) : null, thead, tbody);
}

// Sorts rows by a column's sort function; nulls always last.
export function sortRows(rows, column, dir) {
  const key = column.sort;
  return [...rows].sort((a, b) => {
    const va = key(a);
    const vb = key(b);
    if (va == null && vb == null) return 0;
    if (va == null) return 1;
    if (vb == null) return -1;
    const cmp = typeof va === 'string' ? va.localeCompare(vb, locale()) : va - vb;
    return dir === 'asc' ? cmp : -cmp;
  });
}

// A definition list of facts: [[labelKeyOrText, value], ...].
export function facts(pairs) {
  return h('dl', { class: 'facts' }, ...pairs.filter(Boolean).map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v == null || v === '' ? '–' : v))));
}

// A labelled form field: label + control (+ hint). Returns [wrapper, control].
export function field(labelText, control, hintText) {
  const id = control.id || uid('f');
  control.id = id;
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, labelText), control);
  if (hintText) {
    const hid = `${id}-hint`;
    wrap.append(h('p', { class: 'hint', id: hid }, hintText));
    control.setAttribute('aria-describedby', hid);
  }
  return wrap;
}

// Disables a form's submit button while `fn` runs.
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try { return await fn(); } finally { button.disabled = false; button.removeAttribute('aria-busy'); }
}

// replaceChildren that skips null/false children (like h()).
export function fill(el, ...kids) {
  el.replaceChildren(...kids.flat().filter((k) => k != null && k !== false));
  return el;
}
