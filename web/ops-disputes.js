// Disputes: the queue (open or resolved), and one dispute on one page with everything needed to
// decide it (both statements, photos, the booking's timeline, the messages, the ledger) and the
// decision form: payout, partial refund or refund, an optional penalty, a note.
import { h, t, api } from '/common.js';
import {
  sectionHead, alertBox, statusBox, showError, clear, table, facts, field, busy, fmtDate, fmtMoneyAny, fmtRappen, parseChf, word, uid,
  endpointMissing, notAvailable,
  fill,
} from '/ops-ui.js';

let status = 'open';

export async function render(root, args, ctx) {
  if (args[0]) return renderOne(root, args[0], ctx);
  return renderList(root, ctx);
}

async function renderList(root, ctx) {
  const error = alertBox();
  const select = h('select', { name: 'status' }, ...['open', 'resolved'].map((s) => h('option', { value: s }, word('dispute.status', s))));
  select.value = status;
  const list = h('div', { class: 'list', 'aria-live': 'polite' });
  root.append(...sectionHead('disputes.title', 'disputes.lead'), h('div', { class: 'toolbar' }, field(t('disputes.filter'), select)), error, list);
  let cursor = null;
  let items = [];

  async function load(more = false) {
    clear(error);
    let page;
    try {
      const q = new URLSearchParams({ status, limit: '50' });
      if (more && cursor) q.set('cursor', cursor);
      page = await api(`/v1/ops/disputes?${q}`);
    } catch (err) {
      if (endpointMissing(err)) fill(list, notAvailable());
      else showError(error, err);
      return;
    }
    if (ctx.stale()) return;
    items = more ? items.concat(page.items || []) : (page.items || []);
    cursor = page.next_cursor || null;
    if (!items.length) {
      fill(list, h('p', { class: 'empty' }, t('disputes.empty', { status: word('dispute.status', status) })));
      return;
    }
    fill(list, 
      table([
        { key: 'opened_at', label: t('disputes.opened_at'), render: (d) => fmtDate(d.opened_at) },
        { key: 'service', label: t('disputes.service'), render: (d) => d.service },
        { key: 'price', label: t('disputes.price'), num: true, render: (d) => fmtMoneyAny(d.price) },
        { key: 'opened_by', label: t('disputes.opened_by'), render: (d) => word('role', d.opened_by) },
        { key: 'reason', label: t('disputes.reason'), render: (d) => word('dispute.reason', d.reason) },
        { key: 'status', label: t('disputes.status'), render: (d) => (d.outcome ? `${word('dispute.status', d.status)}: ${t(`dispute.outcome.${d.outcome}`)}` : word('dispute.status', d.status)) },
        {
          key: 'open', label: t('ops.action'),
          render: (d) => h('a', { class: 'button small secondary', href: `#/disputes/${encodeURIComponent(d.id)}` },
            t('disputes.open'), h('span', { class: 'sr-only' }, ` ${fmtDate(d.opened_at)}`)),
        },
      ], items, { caption: t('disputes.caption', { status: word('dispute.status', status) }), rowHeader: true }),
      cursor ? h('button', { type: 'button', class: 'button secondary', onclick: () => load(true) }, t('ops.more')) : null,
    );
  }
  select.addEventListener('change', () => { status = select.value; cursor = null; load(); });
  await load();
}

// Fetches a photo with the operator's token and turns it into a data: URL (the page's CSP only
// allows images from 'self' and data:, and an <img src> cannot send the bearer token).
async function photoDataUrl(url) {
  const res = await api(url, { raw: true });
  const blob = await res.blob();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function renderOne(root, id, ctx) {
  const error = alertBox();
  const info = statusBox();
  const back = h('p', {}, h('a', { href: '#/disputes' }, `← ${t('disputes.back')}`));
  root.append(back, ...sectionHead('dispute.title'), error, info);
  let data;
  try {
    data = await api(`/v1/ops/disputes/${encodeURIComponent(id)}`);
  } catch (err) {
    if (endpointMissing(err)) root.append(notAvailable());
    else showError(error, err);
    return;
  }
  if (ctx.stale()) return;
  const body = h('div', { class: 'dispute' });
  root.append(body);
  draw(body, data, { error, info, id, ctx });
}

function draw(body, data, env) {
  const d = data.dispute || {};
  const b = data.booking || {};
  const resolved = d.status === 'resolved';
  const parts = [];

  // Summary.
  parts.push(h('section', { class: 'panel', 'aria-labelledby': 'dispute-summary' },
    h('h2', { id: 'dispute-summary' }, t('dispute.summary')),
    facts([
      [t('disputes.status'), h('span', { class: `pill ${resolved ? 'ok' : 'warn'}` }, word('dispute.status', d.status))],
      [t('disputes.opened_by'), word('role', d.opened_by)],
      [t('disputes.opened_at'), fmtDate(d.opened_at)],
      [t('disputes.reason'), word('dispute.reason', d.reason)],
      [t('disputes.service'), b.service_name || b.service],
      [t('disputes.price'), fmtMoneyAny(b.price)],
      resolved ? [t('dispute.outcome'), word('dispute.outcome', d.outcome)] : null,
      resolved ? [t('dispute.refund'), fmtRappen(d.refund_rappen ?? 0)] : null,
      resolved && d.penalty_rappen ? [t('dispute.penalty'), fmtRappen(d.penalty_rappen)] : null,
      !resolved && data.refundable_rappen != null ? [t('dispute.refundable'), fmtRappen(data.refundable_rappen)] : null,
      !resolved && data.held_for_helper_rappen != null ? [t('dispute.held'), fmtRappen(data.held_for_helper_rappen)] : null,
      resolved ? [t('dispute.note'), d.decision_note] : null,
      resolved ? [t('dispute.resolved_at'), fmtDate(d.resolved_at)] : null,
    ]),
    d.text ? h('div', { class: 'quote' }, h('h3', {}, t('dispute.text')), h('p', {}, d.text)) : null,
  ));

  // Both statements side by side.
  const statement = (who, text) => h('div', { class: 'quote' }, h('h3', {}, t(`dispute.statement.${who}`)),
    text ? h('p', {}, text) : h('p', { class: 'hint' }, t('dispute.no_statement')));
  parts.push(h('section', { class: 'panel', 'aria-labelledby': 'dispute-statements' },
    h('h2', { id: 'dispute-statements' }, t('dispute.statements')),
    h('div', { class: 'two' }, statement('customer', d.customer_statement), statement('helper', d.helper_statement))));

  // Photos, loaded as data: URLs.
  const photos = d.photos || [];
  const gallery = h('div', { class: 'gallery' });
  parts.push(h('section', { class: 'panel', 'aria-labelledby': 'dispute-photos' },
    h('h2', { id: 'dispute-photos' }, t('dispute.photos', { n: photos.length })),
    photos.length ? gallery : h('p', { class: 'hint' }, t('dispute.no_photos'))));
  photos.forEach((p, i) => {
    const alt = t('dispute.photo_alt', { n: i + 1, who: word('role', p.uploaded_by) });
    const fig = h('figure', { class: 'photo' }, h('p', { class: 'hint' }, t('ops.loading')), h('figcaption', {}, alt));
    gallery.append(fig);
    photoDataUrl(p.url).then((src) => {
      fig.firstChild.replaceWith(h('img', { src, alt, class: 'photo-img', 'data-photo': p.id }));
    }).catch((err) => {
      fig.firstChild.replaceWith(h('p', { class: 'error', role: 'alert' }, `${t('dispute.photo_failed')} ${err.message || ''}`));
    });
  });

  // Booking and its timeline.
  const timeline = b.timeline || [];
  parts.push(h('section', { class: 'panel', 'aria-labelledby': 'dispute-booking' },
    h('h2', { id: 'dispute-booking' }, t('dispute.booking')),
    facts([
      [t('bookings.state'), word('state', b.state)],
      [t('bookings.start'), fmtDate(b.starts_at)],
      [t('bookings.address'), b.address],
      [t('bookings.customer'), b.customer_name || b.customer_id],
      [t('bookings.helper'), b.helper_name || b.helper_id],
      [t('bookings.id'), h('a', { href: `#/bookings/${encodeURIComponent(b.id || d.booking_id)}` }, b.id || d.booking_id)],
    ]),
    h('h3', {}, t('dispute.timeline')),
    timeline.length
      ? h('ol', { class: 'timeline' }, ...timeline.map((e) => h('li', {},
        h('time', { datetime: e.at }, fmtDate(e.at)), ' ',
        h('strong', {}, word('action', e.action)), ` · ${word('role', e.actor)}`,
        e.to_state ? ` → ${word('state', e.to_state)}` : '',
        e.note ? h('span', { class: 'note' }, ` “${e.note}”`) : null)))
      : h('p', { class: 'hint' }, t('ops.none'))));

  // Messages.
  const messages = data.messages || [];
  parts.push(h('section', { class: 'panel', 'aria-labelledby': 'dispute-messages' },
    h('h2', { id: 'dispute-messages' }, t('dispute.messages', { n: messages.length })),
    messages.length
      ? h('ol', { class: 'messages' }, ...messages.map((m) => h('li', { class: `msg ${m.author_role}` },
        h('p', { class: 'meta' }, h('strong', {}, word('role', m.author_role)), ' · ', h('time', { datetime: m.sent_at }, fmtDate(m.sent_at))),
        h('p', {}, m.body))))
      : h('p', { class: 'hint' }, t('ops.none'))));

  // Ledger.
  const ledger = data.ledger || [];
  parts.push(h('section', { class: 'panel', 'aria-labelledby': 'dispute-ledger' },
    h('h2', { id: 'dispute-ledger' }, t('dispute.ledger')),
    ledger.length
      ? table([
        { key: 'at', label: t('ledger.at'), render: (e) => fmtDate(e.at) },
        { key: 'kind', label: t('ledger.kind'), render: (e) => word('ledger.kinds', e.kind) },
        { key: 'account', label: t('ledger.account'), render: (e) => word('ledger.accounts', e.account) },
        { key: 'amount_rappen', label: t('ledger.amount'), num: true, render: (e) => fmtRappen(e.amount_rappen) },
      ], ledger, { caption: t('dispute.ledger_caption'), rowHeader: false })
      : h('p', { class: 'hint' }, t('dispute.no_ledger'))));

  if (!resolved) parts.push(decisionForm(data, env, body));
  fill(body, ...parts);
}

function decisionForm(data, env, body) {
  const d = data.dispute;
  // The most a refund can be: what was charged and not refunded yet (older servers: the price).
  const price = data.refundable_rappen ?? data.booking?.price?.amount_rappen ?? null;
  const formError = alertBox();
  const form = h('form', { class: 'form', novalidate: true, id: 'resolve-form' });
  const outcomes = ['payout', 'partial_refund', 'refund'];
  const fs = h('fieldset', { class: 'choices' }, h('legend', {}, t('dispute.outcome')),
    ...outcomes.map((o, i) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: 'outcome', value: o, checked: i === 0 || null }), ` ${t(`dispute.outcome.${o}`)}`)));
  const refund = h('input', { name: 'refund', inputmode: 'decimal', autocomplete: 'off' });
  const refundField = field(t('dispute.refund_chf'), refund, price != null ? t('dispute.refund_hint', { price: fmtRappen(price) }) : null);
  refundField.hidden = true;
  const penalty = h('input', { name: 'penalty', inputmode: 'decimal', autocomplete: 'off' });
  const note = h('textarea', { name: 'note', rows: '3', required: true, maxlength: '2000' });
  const submit = h('button', { type: 'submit', class: 'button' }, t('dispute.resolve'));
  form.append(formError, fs, refundField,
    field(t('dispute.penalty_chf'), penalty, t('dispute.penalty_hint')),
    field(t('dispute.note'), note, t('dispute.note_hint')), submit);
  fs.addEventListener('change', () => {
    refundField.hidden = form.outcome.value !== 'partial_refund';
    if (!refundField.hidden) refund.focus();
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(formError);
    for (const c of [refund, penalty, note]) c.removeAttribute('aria-invalid');
    const outcome = form.outcome.value;
    const payload = { outcome, note: note.value.trim() };
    const bad = (control, key, vars) => {
      formError.textContent = t(key, vars);
      control.setAttribute('aria-invalid', 'true');
      control.focus();
    };
    if (outcome === 'partial_refund') {
      const r = parseChf(refund.value);
      if (r == null || r <= 0) return bad(refund, 'dispute.bad_amount');
      if (price != null && r >= price) return bad(refund, 'dispute.refund_too_big', { price: fmtRappen(price) });
      payload.refund_rappen = r;
    }
    if (penalty.value.trim()) {
      const p = parseChf(penalty.value);
      if (p == null || p <= 0) return bad(penalty, 'dispute.bad_amount');
      payload.penalty_rappen = p;
    }
    if (payload.note.length < 3) return bad(note, 'dispute.note_required');
    await busy(submit, async () => {
      try {
        // The answer is the whole case again, with the decision's ledger entries.
        const fresh = await api(`/v1/ops/disputes/${encodeURIComponent(env.id)}/resolve`, { method: 'POST', body: payload });
        env.info.textContent = t('dispute.resolved_msg', { outcome: t(`dispute.outcome.${outcome}`) });
        draw(body, fresh, env);
        body.querySelector('#dispute-summary')?.setAttribute('tabindex', '-1');
        body.querySelector('#dispute-summary')?.focus();
      } catch (err) {
        showError(formError, err);
      }
    });
    return undefined;
  });
  const titleId = uid('decide');
  return h('section', { class: 'panel decide', 'aria-labelledby': titleId }, h('h2', { id: titleId }, t('dispute.decide')), form);
}
