// Vetting queue: applications by status, one application's details, and the decision (approve,
// reject, suspend, reinstate) with the reason the helper sees. An appeal must be decided by another
// operator than the one who decided before: the API says so (409 same_operator) and we show it.
import { h, t, api } from '/common.js';
import {
  sectionHead, alertBox, statusBox, showError, clear, table, facts, field, busy, fmtDate, word, uid, endpointMissing, notAvailable,
  fill,
} from '/ops-ui.js';

const STATUSES = ['applied', 'appealed', 'approved', 'rejected', 'suspended'];
const DECISIONS = {
  applied: ['approve', 'reject'],
  appealed: ['approve', 'reject', 'reinstate'],
  approved: ['suspend'],
  suspended: ['reinstate'],
  rejected: [],
};

let status = 'applied';

export async function render(root, args, ctx) {
  if (STATUSES.includes(args[0])) status = args[0];
  const error = alertBox();
  const info = statusBox();
  const select = h('select', { name: 'status' }, ...STATUSES.map((s) => h('option', { value: s }, word('vetting.status', s))));
  select.value = status;
  const list = h('div', { class: 'list', 'aria-live': 'polite', 'aria-busy': 'true' });
  const detail = h('div', { class: 'detail' });
  root.append(
    ...sectionHead('vetting.title', 'vetting.lead'),
    h('div', { class: 'toolbar' }, field(t('vetting.filter'), select)),
    error, info,
    h('div', { class: 'split' }, list, detail),
  );

  async function load() {
    clear(error);
    list.setAttribute('aria-busy', 'true');
    let page;
    try {
      page = await api(`/v1/ops/helpers?status=${encodeURIComponent(status)}&limit=100`);
    } catch (err) {
      list.removeAttribute('aria-busy');
      if (endpointMissing(err)) fill(list, notAvailable());
      else { fill(list); showError(error, err); }
      return [];
    }
    if (ctx.stale()) return [];
    list.removeAttribute('aria-busy');
    const items = page.items || [];
    if (!items.length) {
      fill(list, h('p', { class: 'empty' }, t('vetting.empty', { status: word('vetting.status', status) })));
      return items;
    }
    fill(list, 
      h('p', { class: 'count' }, t('ops.count', { n: items.length })),
      table([
        { key: 'name', label: t('vetting.name'), render: (a) => a.name },
        { key: 'email', label: t('vetting.email') },
        { key: 'submitted_at', label: t('vetting.submitted'), render: (a) => fmtDate(a.submitted_at) },
        { key: 'status', label: t('vetting.status'), render: (a) => word('vetting.status', a.status) },
        {
          key: 'open', label: t('ops.action'),
          render: (a) => h('button', {
            type: 'button', class: 'button small secondary', 'data-helper': a.helper_id,
            onclick: () => { clear(info); open(a); },
          }, t('vetting.open'), h('span', { class: 'sr-only' }, ` ${a.name}`)),
        },
      ], items, { caption: t('vetting.caption', { status: word('vetting.status', status) }) }),
    );
    return items;
  }

  function open(a) {
    const reasonId = uid('reason');
    const choices = DECISIONS[a.status] || [];
    const formError = alertBox();
    const form = h('form', { class: 'form', novalidate: true });
    const legendId = uid('legend');
    if (choices.length) {
      const fs = h('fieldset', { class: 'choices', 'aria-describedby': null },
        h('legend', { id: legendId }, t('vetting.decision')),
        ...choices.map((d, i) => h('label', { class: 'choice' },
          h('input', { type: 'radio', name: 'decision', value: d, checked: i === 0 || null }), ` ${t(`vetting.decide.${d}`)}`)));
      const reason = h('textarea', { id: reasonId, name: 'reason', rows: '3', required: true, minlength: '3', maxlength: '1000' });
      const submit = h('button', { type: 'submit', class: 'button' }, t('vetting.submit'));
      form.append(formError, fs, field(t('vetting.reason'), reason, t('vetting.reason_hint')), submit);
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clear(formError);
        const text = reason.value.trim();
        if (text.length < 3) {
          formError.textContent = t('ops.reason_required');
          reason.setAttribute('aria-invalid', 'true');
          reason.focus();
          return;
        }
        reason.removeAttribute('aria-invalid');
        const decision = form.decision.value;
        await busy(submit, async () => {
          try {
            const updated = await api(`/v1/ops/helpers/${encodeURIComponent(a.helper_id)}/decision`, { method: 'POST', body: { decision, reason: text } });
            info.textContent = t('vetting.done', { name: a.name, status: word('vetting.status', updated.status) });
            fill(detail);
            await load();
          } catch (err) {
            showError(formError, err);
          }
        });
      });
    } else {
      form.append(h('p', { class: 'hint' }, t('vetting.no_decision')));
    }
    const sameOperator = a.status === 'appealed' && ctx.me && a.appeal_against === ctx.me.id;
    const titleId = uid('app');
    fill(detail, h('section', { class: 'panel', 'aria-labelledby': titleId },
      h('h2', { id: titleId, tabindex: '-1' }, t('vetting.application', { name: a.name })),
      facts([
        [t('vetting.name'), a.name],
        [t('vetting.email'), a.email],
        [t('vetting.legal_name'), a.legal_name],
        [t('vetting.birth_date'), a.birth_date],
        [t('vetting.iban'), a.iban],
        [t('vetting.submitted'), fmtDate(a.submitted_at)],
        [t('vetting.status'), word('vetting.status', a.status)],
        a.reason ? [t('vetting.last_reason'), a.reason] : null,
      ]),
      a.appeal ? h('div', { class: 'quote' }, h('h3', {}, t('vetting.appeal')), h('p', {}, a.appeal)) : null,
      sameOperator ? h('p', { class: 'notice warn' }, t('vetting.same_operator')) : null,
      form,
    ));
    detail.querySelector('h2').focus();
  }

  select.addEventListener('change', () => {
    status = select.value;
    fill(detail);
    clear(info);
    load();
  });
  await load();
}
