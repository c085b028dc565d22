// Outbox: messages by state, a page of them, and putting a dead letter back in the queue.
import { h, t, api } from '/common.js';
import { sectionHead, alertBox, statusBox, showError, clear, table, field, busy, fmtDate, word, endpointMissing, notAvailable, fill,
} from '/ops-ui.js';

const STATES = ['pending', 'sending', 'sent', 'dead'];
let state = 'dead';

export async function render(root, args, ctx) {
  const error = alertBox();
  const info = statusBox();
  const select = h('select', { name: 'state' }, h('option', { value: '' }, t('outbox.all')), ...STATES.map((s) => h('option', { value: s }, word('outbox.state', s))));
  select.value = state;
  const counts = h('dl', { class: 'kpi-grid small' });
  const list = h('div', { class: 'list', 'aria-live': 'polite' });
  root.append(...sectionHead('outbox.title', 'outbox.lead'), counts, h('div', { class: 'toolbar' }, field(t('outbox.filter'), select)), error, info, list);
  let cursor = null;
  let items = [];

  async function load(more = false) {
    clear(error);
    const q = new URLSearchParams({ limit: '50' });
    if (state) q.set('state', state);
    if (more && cursor) q.set('cursor', cursor);
    let page;
    try { page = await api(`/v1/ops/outbox?${q}`); } catch (err) {
      if (endpointMissing(err)) fill(list, notAvailable()); else showError(error, err);
      return;
    }
    if (ctx.stale()) return;
    fill(counts, ...STATES.map((s) => h('div', { class: `kpi${s === 'dead' && page.counts?.[s] ? ' bad' : ''}`, 'data-state': s },
      h('dt', {}, word('outbox.state', s)), h('dd', {}, h('span', { class: 'kpi-value' }, String(page.counts?.[s] ?? 0))))));
    items = more ? items.concat(page.items || []) : (page.items || []);
    cursor = page.next_cursor || null;
    if (!items.length) { fill(list, h('p', { class: 'empty' }, t('outbox.empty'))); return; }
    fill(list, table([
      { key: 'created_at', label: t('outbox.created'), render: (m) => fmtDate(m.created_at) },
      { key: 'template', label: t('outbox.template'), render: (m) => h('code', {}, m.template) },
      { key: 'recipient', label: t('outbox.recipient') },
      { key: 'state', label: t('outbox.state'), render: (m) => word('outbox.state', m.state) },
      { key: 'attempts', label: t('outbox.attempts'), num: true, render: (m) => String(m.attempts) },
      { key: 'last_error', label: t('outbox.last_error'), render: (m) => m.last_error || '–' },
      { key: 'next_attempt_at', label: t('outbox.next'), render: (m) => fmtDate(m.next_attempt_at) },
      {
        key: 'retry', label: t('ops.action'),
        render: (m) => (m.state === 'dead' ? h('button', {
          type: 'button', class: 'button small', onclick: (ev) => retry(ev.currentTarget, m),
        }, t('outbox.retry'), h('span', { class: 'sr-only' }, ` ${m.template} ${fmtDate(m.created_at)}`)) : '–'),
      },
    ], items, { caption: t('outbox.caption') }),
    cursor ? h('button', { type: 'button', class: 'button secondary', onclick: () => load(true) }, t('ops.more')) : null);
  }

  async function retry(button, m) {
    clear(error, info);
    await busy(button, async () => {
      try {
        const after = await api(`/v1/ops/outbox/${encodeURIComponent(m.id)}/retry`, { method: 'POST' });
        info.textContent = t('outbox.retried', { template: m.template, state: word('outbox.state', after.state) });
        await load();
      } catch (err) { showError(error, err); }
    });
  }

  select.addEventListener('change', () => { state = select.value; cursor = null; load(); });
  await load();
}
