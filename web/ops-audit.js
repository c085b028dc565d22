// Audit log: every operator decision, newest first.
import { h, t, api } from '/common.js';
import { sectionHead, alertBox, showError, clear, table, fmtDate, word, endpointMissing, notAvailable, fill,
} from '/ops-ui.js';

// Bookings and disputes acted on link to their page.
function subject(e) {
  const kind = String(e.action).split(/[._]/)[0];
  const code = h('code', {}, e.subject);
  if (kind === 'booking' || kind === 'dispute') return h('a', { href: `#/${kind}s/${encodeURIComponent(e.subject)}` }, code);
  return code;
}

export async function render(root, args, ctx) {
  const error = alertBox();
  const list = h('div', { class: 'list', 'aria-live': 'polite' });
  root.append(...sectionHead('audit.title', 'audit.lead'), error, list);
  let cursor = null;
  let items = [];
  async function load(more = false) {
    clear(error);
    const q = new URLSearchParams({ limit: '50' });
    if (more && cursor) q.set('cursor', cursor);
    let page;
    try { page = await api(`/v1/ops/audit?${q}`); } catch (err) {
      if (endpointMissing(err)) fill(list, notAvailable()); else showError(error, err);
      return;
    }
    if (ctx.stale()) return;
    items = more ? items.concat(page.items || []) : (page.items || []);
    cursor = page.next_cursor || null;
    if (!items.length) { fill(list, h('p', { class: 'empty' }, t('ops.none'))); return; }
    fill(list, table([
      { key: 'at', label: t('audit.at'), render: (e) => fmtDate(e.at) },
      { key: 'operator', label: t('audit.operator'), render: (e) => e.operator_name || e.operator },
      { key: 'action', label: t('audit.action'), render: (e) => word('audit.actions', e.action) },
      { key: 'subject', label: t('audit.subject'), render: subject },
      { key: 'reason', label: t('audit.reason') },
    ], items, { caption: t('audit.caption') }),
    cursor ? h('button', { type: 'button', class: 'button secondary', onclick: () => load(true) }, t('ops.more')) : null);
  }
  await load();
}
