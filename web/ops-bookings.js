// Bookings, and acting on behalf of the parties: cancel, complete or reassign to another approved
// helper, always with a reason that goes into the booking's timeline.
import { h, t, api } from '/common.js';
import {
  sectionHead, alertBox, statusBox, showError, clear, table, facts, field, busy, fmtDate, fmtMoneyAny, word, uid, endpointMissing,
  fill,
} from '/ops-ui.js';

const STATES = ['requested', 'accepted', 'confirmed', 'en_route', 'on_site', 'done', 'declined', 'expired', 'cancelled_by_customer',
  'cancelled_by_helper', 'cancelled_by_operator', 'no_show_customer', 'no_show_helper', 'failed_visit'];
const ACTIONS = ['cancel', 'complete', 'reassign'];

let state = '';

export async function render(root, args, ctx) {
  if (args[0]) return renderOne(root, args[0], ctx);
  return renderList(root, ctx);
}

async function listPage(q) {
  try {
    return await api(`/v1/ops/bookings?${q}`);
  } catch (err) {
    // Before the operators' list existed, GET /v1/bookings showed an operator every booking.
    if (endpointMissing(err)) return api(`/v1/bookings?${q}`);
    throw err;
  }
}

async function renderList(root, ctx) {
  const error = alertBox();
  const select = h('select', { name: 'state' }, h('option', { value: '' }, t('bookings.all_states')),
    ...STATES.map((s) => h('option', { value: s }, word('state', s))));
  select.value = state;
  const list = h('div', { class: 'list', 'aria-live': 'polite' });
  root.append(...sectionHead('bookings.title', 'bookings.lead'), h('div', { class: 'toolbar' }, field(t('bookings.filter'), select)), error, list);
  let cursor = null;
  let items = [];
  async function load(more = false) {
    clear(error);
    const q = new URLSearchParams({ limit: '50' });
    if (state) q.set('state', state);
    if (more && cursor) q.set('cursor', cursor);
    let page;
    try { page = await listPage(q); } catch (err) { showError(error, err); return; }
    if (ctx.stale()) return;
    items = more ? items.concat(page.items || []) : (page.items || []);
    cursor = page.next_cursor || null;
    if (!items.length) { fill(list, h('p', { class: 'empty' }, t('bookings.empty'))); return; }
    fill(list, 
      table([
        { key: 'starts_at', label: t('bookings.start'), render: (b) => fmtDate(b.starts_at) },
        { key: 'service', label: t('bookings.service'), render: (b) => b.service_name || b.service },
        { key: 'state', label: t('bookings.state'), render: (b) => word('state', b.state) },
        { key: 'price', label: t('bookings.price'), num: true, render: (b) => fmtMoneyAny(b.price) },
        { key: 'customer', label: t('bookings.customer'), render: (b) => b.customer_name || short(b.customer_id) },
        { key: 'helper', label: t('bookings.helper'), render: (b) => b.helper_name || short(b.helper_id) },
        {
          key: 'open', label: t('ops.action'),
          render: (b) => h('a', { class: 'button small secondary', href: `#/bookings/${encodeURIComponent(b.id)}` },
            t('bookings.open'), h('span', { class: 'sr-only' }, ` ${b.service_name || ''} ${fmtDate(b.starts_at)}`)),
        },
      ], items, { caption: t('bookings.caption') }),
      cursor ? h('button', { type: 'button', class: 'button secondary', onclick: () => load(true) }, t('ops.more')) : null,
    );
  }
  select.addEventListener('change', () => { state = select.value; cursor = null; load(); });
  await load();
}

const short = (id) => (id ? `…${id.slice(-6)}` : '–');

async function renderOne(root, id, ctx) {
  const error = alertBox();
  const info = statusBox();
  root.append(h('p', {}, h('a', { href: '#/bookings' }, `← ${t('bookings.back')}`)), ...sectionHead('booking.title'), error, info);
  const body = h('div', { class: 'booking' });
  root.append(body);
  let booking;
  try { booking = await api(`/v1/bookings/${encodeURIComponent(id)}`); } catch (err) { showError(error, err); return; }
  if (ctx.stale()) return;
  // Every approved helper to reassign to: the list comes in pages of at most 100.
  const helpers = [];
  try {
    let cursor = null;
    for (let pages = 0; pages < 50; pages += 1) {
      const page = await api(`/v1/ops/helpers?status=approved&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      helpers.push(...(page.items || []));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
  } catch { /* reassign lists whom it has */ }
  if (ctx.stale()) return;
  draw(body, booking, helpers, info);
}

function draw(body, b, helpers, info) {
  const helperName = (hid) => helpers.find((x) => x.helper_id === hid)?.name;
  const timeline = b.timeline || [];
  fill(body, 
    h('section', { class: 'panel', 'aria-labelledby': 'booking-facts' },
      h('h2', { id: 'booking-facts', tabindex: '-1' }, `${b.service_name || b.service} · ${fmtDate(b.starts_at)}`),
      facts([
        [t('bookings.state'), h('span', { class: 'pill', 'data-state': b.state }, word('state', b.state))],
        [t('bookings.start'), fmtDate(b.starts_at)],
        [t('bookings.end'), fmtDate(b.ends_at)],
        [t('bookings.price'), fmtMoneyAny(b.price)],
        [t('bookings.address'), b.address],
        [t('bookings.customer'), b.customer_name || b.customer_id],
        [t('bookings.helper'), b.helper_name || helperName(b.helper_id) || b.helper_id],
        [t('bookings.id'), b.id],
      ])),
    h('section', { class: 'panel', 'aria-labelledby': 'booking-timeline' },
      h('h2', { id: 'booking-timeline' }, t('dispute.timeline')),
      timeline.length
        ? h('ol', { class: 'timeline' }, ...timeline.map((e) => h('li', {},
          h('time', { datetime: e.at }, fmtDate(e.at)), ' ', h('strong', {}, word('action', e.action)), ` · ${word('role', e.actor)}`,
          e.to_state ? ` → ${word('state', e.to_state)}` : '', e.note ? h('span', { class: 'note' }, ` “${e.note}”`) : null)))
        : h('p', { class: 'hint' }, t('ops.none'))),
    actForm(b, helpers, info, body),
  );
}

function actForm(b, helpers, info, body) {
  const formError = alertBox();
  const form = h('form', { class: 'form', novalidate: true, id: 'act-form' });
  const fs = h('fieldset', { class: 'choices' }, h('legend', {}, t('bookings.action')),
    ...ACTIONS.map((a, i) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: 'action', value: a, checked: i === 0 || null }), ` ${t(`bookings.act.${a}`)}`)));
  const helperSelect = h('select', { name: 'helper_id' }, h('option', { value: '' }, t('bookings.pick_helper')),
    ...helpers.filter((x) => x.helper_id !== b.helper_id).map((x) => h('option', { value: x.helper_id }, `${x.name} (${x.email})`)));
  const helperField = field(t('bookings.new_helper'), helperSelect);
  helperField.hidden = true;
  const reason = h('textarea', { name: 'reason', rows: '3', required: true, maxlength: '500' });
  const submit = h('button', { type: 'submit', class: 'button' }, t('bookings.do'));
  form.append(formError, fs, helperField, field(t('bookings.reason'), reason, t('bookings.reason_hint')), submit);
  fs.addEventListener('change', () => { helperField.hidden = form.action.value !== 'reassign'; });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(formError);
    reason.removeAttribute('aria-invalid');
    helperSelect.removeAttribute('aria-invalid');
    const action = form.action.value;
    const payload = { action, reason: reason.value.trim() };
    if (action === 'reassign') {
      if (!helperSelect.value) {
        formError.textContent = t('bookings.helper_required');
        helperSelect.setAttribute('aria-invalid', 'true');
        helperSelect.focus();
        return;
      }
      payload.helper_id = helperSelect.value;
    }
    if (payload.reason.length < 3) {
      formError.textContent = t('ops.reason_required');
      reason.setAttribute('aria-invalid', 'true');
      reason.focus();
      return;
    }
    await busy(submit, async () => {
      try {
        const updated = await api(`/v1/bookings/${encodeURIComponent(b.id)}/transitions`, { method: 'POST', body: payload });
        info.textContent = t('bookings.done', { action: t(`bookings.act.${action}`), state: word('state', updated.state) });
        draw(body, updated, helpers, info);
        body.querySelector('#booking-facts')?.focus();
      } catch (err) {
        showError(formError, err);
      }
    });
  });
  const titleId = uid('act');
  return h('section', { class: 'panel decide', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, t('bookings.act_title')), h('p', { class: 'hint' }, t('bookings.act_lead')), form);
}
