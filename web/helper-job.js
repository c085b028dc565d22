// One job: the guided visit (confirm, on my way, arrive with the customer's start code, scope
// change, complete with the sign-off code, failed visit), messages with the customer and the
// review of the customer. Readable offline from the service worker's cache.
import { $, h, t, api, formatMoney, formatDate, formatTime, formatDateTime } from './common.js';
import { field, errorBox, errorText, busy, toast, isOffline, setOffline, isNetworkError, nextId, stateName } from './helper-ui.js';
import { serviceName, refreshOffers } from './helper.js';

const STEPS = ['accepted', 'confirmed', 'en_route', 'on_site', 'done'];
const CAUSES = ['line_not_active', 'device_faulty', 'material_missing', 'customer_not_there', 'other'];
const FINAL = ['done', 'declined', 'expired', 'cancelled_by_customer', 'cancelled_by_helper', 'cancelled_by_operator',
  'no_show_customer', 'no_show_helper', 'failed_visit'];

export async function renderJob(root, id) {
  const status = h('p', { class: 'status', role: 'status' }, t('loading'));
  root.append(h('p', {}, h('a', { href: '#jobs', class: 'back' }, `← ${t('job.back')}`)), h('h1', { tabindex: '-1' }, t('job.title')), status);
  let b;
  try {
    b = await api(`/v1/bookings/${encodeURIComponent(id)}`);
  } catch (err) {
    if (isNetworkError(err)) setOffline(true);
    status.textContent = errorText(err);
    return;
  }
  status.remove();
  const body = h('div', { class: 'job-body' });
  root.append(body);
  draw(body, b);
  // Live: the app's event stream (helper.js) passes on every notice about this job. A new
  // message reloads only the conversation; any other notice (a step, the customer's answer to a
  // change, a reschedule) reloads the booking.
  const onChange = async (e) => {
    if (!body.isConnected) { document.removeEventListener('quartier:booking-changed', onChange); return; }
    if (e.detail?.id !== b.id) return;
    if (e.detail.kind === 'message') { kept.get(body)?.reloadMessages(); return; }
    try { b = await api(`/v1/bookings/${encodeURIComponent(b.id)}`); draw(body, b); } catch { /* keep what is shown */ }
  };
  document.addEventListener('quartier:booking-changed', onChange);
  const onOnline = () => {
    if (!body.isConnected) { document.removeEventListener('quartier:online-changed', onOnline); return; }
    draw(body, b);
  };
  document.addEventListener('quartier:online-changed', onOnline);
}

// Parts of a job view that survive a redraw (so a draft message or review is not lost when the
// booking changes): body -> {section, reloadMessages, setOffline, review: {section, refresh, setOffline}}.
const kept = new WeakMap();

function draw(body, b) {
  const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement : null;
  const titleEl = body.parentElement?.querySelector('h1');
  if (titleEl) titleEl.textContent = serviceName(b);
  let parts = kept.get(body);
  if (!parts) { parts = messages(b); kept.set(body, parts); }
  parts.setOffline(isOffline());
  if (b.state === 'done') {
    if (parts.review) parts.review.refresh(); else parts.review = review(b);
    parts.review.setOffline(isOffline());
  }
  // While the step stays the same, what the helper typed or opened in it survives the redraw.
  const before = parts.state === b.state ? $('.next-step', body) : null;
  const typed = before ? [...before.querySelectorAll('[name]')].filter((x) => x.value).map((x) => [x.name, x.value]) : [];
  const opened = before ? [...before.querySelectorAll('details')].map((x) => x.open) : [];
  const focusedName = before?.contains(focused) ? focused.name : null;
  const next = actions(b, body);
  for (const [name, value] of typed) { const x = next.querySelector(`[name="${name}"]`); if (x && (x.tagName === 'SELECT' || !x.value)) x.value = value; }
  next.querySelectorAll('details').forEach((x, i) => { if (opened[i]) x.open = true; });
  parts.state = b.state;
  body.replaceChildren(...[summary(b), stepper(b), next, parts.section, parts.review?.section, timeline(b)].filter(Boolean));
  const again = (focusedName && next.querySelector(`[name="${focusedName}"]`)) || (focused?.id && document.getElementById(focused.id));
  again?.focus();
}

function summary(b) {
  return h('section', { class: 'panel job-summary', 'aria-label': t('job.summary') },
    h('p', { class: 'job-when big' }, `${formatDate(b.starts_at)}, ${formatTime(b.starts_at)}–${formatTime(b.ends_at)}`),
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, t('job.state')), h('dd', {}, h('span', { class: `badge state-badge s-${b.state}` }, stateName(b.state)))),
      h('div', {}, h('dt', {}, t('job.price')), h('dd', {}, formatMoney(b.price))),
      b.extra_units ? h('div', {}, h('dt', {}, t('job.extra')), h('dd', {}, String(b.extra_units))) : null),
    h('div', { class: 'address' },
      h('h2', { class: 'small-heading' }, t('job.address')),
      b.address ? h('p', { class: 'address-text' }, b.address) : h('p', { class: 'hint' }, t('job.address.hidden'))),
    b.failure_cause ? h('p', {}, `${t('job.cause')}: ${t(`cause.${b.failure_cause}`)}`) : null);
}

function stepper(b) {
  const at = b.state === 'done' ? STEPS.length : STEPS.indexOf(b.state);
  if (at < 0) return null;
  return h('ol', { class: 'stepper', 'aria-label': t('job.progress') },
    ...STEPS.map((s, i) => h('li', {
      class: i < at ? 'done' : i === at ? 'current' : 'todo',
      'aria-current': i === at ? 'step' : null,
    }, h('span', { class: 'step-dot', 'aria-hidden': 'true' }, i < at ? '✓' : String(i + 1)), h('span', {}, t(`step.${s}`)))));
}

// The next step of the visit, as one obvious button or form.
function actions(b, body) {
  const err = errorBox();
  const box = h('section', { class: 'panel next-step', 'aria-labelledby': 'next-step-title' });
  const act = (payload, button, okText) => busy(button, async () => {
    try {
      const updated = await api(`/v1/bookings/${encodeURIComponent(b.id)}/transitions`, { method: 'POST', body: payload });
      toast(okText);
      draw(body, updated);
      $('#next-step-title')?.focus();
      refreshOffers();
    } catch (e) {
      if (isNetworkError(e)) setOffline(true);
      throw e;
    }
  }, err);
  const offline = isOffline();
  const button = (text, payload, okText, cls = 'button block') => {
    const btn = h('button', { class: cls, type: 'button', disabled: offline }, text);
    btn.addEventListener('click', () => act(payload, btn, okText));
    return btn;
  };
  const heading = (text) => h('h2', { id: 'next-step-title', tabindex: '-1' }, text);
  const codeForm = (label, hint, submitText, action, okText) => {
    const input = field(label, { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, maxlength: 12, class: 'code-input' }, hint);
    const submit = h('button', { class: 'button block', type: 'submit', disabled: offline }, submitText);
    const form = h('form', { class: 'form', novalidate: true }, input, submit);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const code = $('input', form).value.trim();
      if (!code) { err.textContent = t('job.code.missing'); $('input', form).focus(); return; }
      act({ action, code }, submit, okText);
    });
    return form;
  };
  if (offline && !FINAL.includes(b.state)) box.append(h('p', { class: 'hint' }, t('job.offline')));
  switch (b.state) {
    case 'requested':
      box.append(heading(t('next.requested')), h('div', { class: 'actions' },
        button(t('offers.accept'), { action: 'accept' }, t('offers.accepted'), 'button accept'),
        button(t('offers.decline'), { action: 'decline' }, t('offers.declined'), 'button secondary')));
      break;
    case 'accepted':
      box.append(heading(t('next.accepted')), h('p', { class: 'hint' }, t('next.accepted.hint')),
        button(t('act.confirm'), { action: 'confirm' }, t('done.confirm')),
        button(t('act.en_route'), { action: 'en_route' }, t('done.en_route'), 'button secondary block'));
      break;
    case 'confirmed':
      box.append(heading(t('next.confirmed')), h('p', { class: 'hint' }, t('next.confirmed.hint')),
        button(t('act.en_route'), { action: 'en_route' }, t('done.en_route')));
      break;
    case 'en_route':
      box.append(heading(t('next.en_route')),
        codeForm(t('act.start_code'), t('act.start_code.hint'), t('act.arrive'), 'arrive', t('done.arrive')));
      break;
    case 'on_site': {
      box.append(heading(t('next.on_site')));
      if (b.pending_extra_units) {
        box.append(h('p', { class: 'notice-inline', role: 'status' }, t('scope.pending', { n: b.pending_extra_units })));
      } else {
        const units = field(t('scope.units'), { tag: 'select', name: 'extra_units', options: [1, 2, 3, 4].map((n) => [String(n), t('scope.option', { n, min: n * 30 })]) });
        const propose = h('button', { class: 'button secondary block', type: 'submit', disabled: offline }, t('scope.propose'));
        const form = h('form', { class: 'form' }, units, propose);
        form.addEventListener('submit', (e) => {
          e.preventDefault();
          act({ action: 'propose_change', extra_units: Number($('select', form).value) }, propose, t('scope.sent'));
        });
        box.append(h('details', { class: 'disclosure' }, h('summary', {}, t('scope.title')), h('p', { class: 'hint' }, t('scope.hint')), form));
      }
      box.append(codeForm(t('act.signoff_code'), t('act.signoff_code.hint'), t('act.complete'), 'complete', t('done.complete')));
      break;
    }
    default:
      if (FINAL.includes(b.state)) box.append(heading(t('next.final')), h('p', {}, t(`final.${b.state}`)));
  }
  if (b.pending_start && b.pending_by === 'customer' && ['accepted', 'confirmed'].includes(b.state)) {
    box.append(h('div', { class: 'notice-inline' },
      h('p', {}, t('resched.asked', { when: formatDateTime(b.pending_start) })),
      h('div', { class: 'actions' },
        button(t('resched.accept'), { action: 'accept_reschedule' }, t('resched.accepted'), 'button'),
        button(t('resched.decline'), { action: 'decline_reschedule' }, t('resched.declined'), 'button secondary'))));
  }
  if (['en_route', 'on_site'].includes(b.state)) box.append(failedForm(b, act, offline));
  if (['accepted', 'confirmed'].includes(b.state)) box.append(cancelForm(act, offline));
  box.append(err);
  return box;
}

function failedForm(b, act, offline) {
  const cause = field(t('failed.cause'), { tag: 'select', name: 'cause', required: true, options: [['', t('failed.choose')], ...CAUSES.map((c) => [c, t(`cause.${c}`)])] });
  const note = field(t('failed.note'), { tag: 'textarea', name: 'reason', maxlength: 500, rows: 3 });
  const submit = h('button', { class: 'button danger block', type: 'submit', disabled: offline }, t('failed.submit'));
  const form = h('form', { class: 'form', novalidate: true }, cause, note, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const c = $('select', form).value;
    if (!c) { $('select', form).focus(); $('select', form).setAttribute('aria-invalid', 'true'); return; }
    const reason = $('textarea', form).value.trim();
    act({ action: 'report_failed', cause: c, ...(reason ? { reason } : {}) }, submit, t('failed.done'));
  });
  return h('details', { class: 'disclosure' }, h('summary', {}, t('failed.title')), h('p', { class: 'hint' }, t('failed.hint')), form);
}

function cancelForm(act, offline) {
  const note = field(t('cancel.reason'), { tag: 'textarea', name: 'reason', maxlength: 500, rows: 2 });
  const submit = h('button', { class: 'button danger block', type: 'submit', disabled: offline }, t('cancel.submit'));
  const form = h('form', { class: 'form' }, note, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const reason = $('textarea', form).value.trim();
    act({ action: 'cancel', ...(reason ? { reason } : {}) }, submit, t('cancel.done'));
  });
  return h('details', { class: 'disclosure' }, h('summary', {}, t('cancel.title')), h('p', { class: 'hint' }, t('cancel.hint')), form);
}

/* ---------- messages ---------- */

function messages(b) {
  const list = h('ol', { class: 'messages', 'aria-live': 'polite' });
  const err = errorBox();
  const id = nextId('msg');
  const input = h('textarea', { id, name: 'body', rows: 2, maxlength: 2000, required: true });
  const send = h('button', { class: 'button', type: 'submit', disabled: isOffline() }, t('msg.send'));
  const form = h('form', { class: 'form message-form' }, h('label', { for: id }, t('msg.label')), input, err, send);
  const load = async () => {
    try {
      const page = await api(`/v1/bookings/${encodeURIComponent(b.id)}/messages`);
      list.replaceChildren(...(page.items.length ? page.items.map((m) => h('li', { class: `msg from-${m.author}` },
        h('span', { class: 'msg-meta' }, `${m.author === 'helper' ? t('msg.me') : t(`msg.${m.author}`)} · ${formatDateTime(m.at)}`),
        h('span', { class: 'msg-body' }, m.body))) : [h('li', { class: 'empty' }, t('msg.none'))]));
    } catch { list.replaceChildren(h('li', { class: 'empty' }, t('msg.unavailable'))); }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) { input.focus(); return; }
    busy(send, async () => {
      await api(`/v1/bookings/${encodeURIComponent(b.id)}/messages`, { method: 'POST', body: { body: text } });
      input.value = '';
      await load();
    }, err);
  });
  load();
  // New messages arrive as notices on the live stream (renderJob); this slow look is only a
  // fallback for a stream that is down, and a catch-up when the app comes back into view.
  const timer = setInterval(() => { if (!list.isConnected) clearInterval(timer); else if (!document.hidden && !isOffline()) load(); }, 120_000);
  const onVisible = () => {
    if (!list.isConnected) { document.removeEventListener('visibilitychange', onVisible); return; }
    if (!document.hidden && !isOffline()) load();
  };
  document.addEventListener('visibilitychange', onVisible);
  return {
    section: h('section', { class: 'panel', 'aria-labelledby': `${id}-h` }, h('h2', { id: `${id}-h` }, t('msg.title')), list, form),
    reloadMessages: load,
    setOffline: (off) => { send.disabled = off; },
  };
}

/* ---------- review ---------- */

function review(b) {
  if (b.state !== 'done') return null;
  const id = nextId('rev');
  const wrap = h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, t('rev.title')));
  const err = errorBox();
  const stars = h('fieldset', { class: 'stars' }, h('legend', {}, t('rev.rating')),
    ...[1, 2, 3, 4, 5].map((n) => {
      const rid = `${id}-r${n}`;
      return h('span', { class: 'star' }, h('input', { type: 'radio', name: 'rating', value: String(n), id: rid, required: true }),
        h('label', { for: rid }, h('span', { 'aria-hidden': 'true' }, '★'), h('span', { class: 'sr-only' }, t('rev.stars', { n }))));
    }));
  const text = field(t('rev.text'), { tag: 'textarea', name: 'text', rows: 3, maxlength: 2000 });
  const submit = h('button', { class: 'button', type: 'submit', disabled: isOffline() }, t('rev.submit'));
  const form = h('form', { class: 'form', novalidate: true }, stars, text, err, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const rating = Number(new FormData(form).get('rating'));
    if (!rating) { err.textContent = t('rev.missing'); $('input', stars).focus(); return; }
    busy(submit, async () => {
      await api(`/v1/bookings/${encodeURIComponent(b.id)}/review`, { method: 'POST', body: { rating, text: $('textarea', form).value.trim() } });
      toast(t('rev.thanks'));
      await showReviews();
    }, err);
  });
  const showReviews = async () => {
    try {
      const r = await api(`/v1/bookings/${encodeURIComponent(b.id)}/reviews`);
      const mine = r.items.find((x) => x.author === 'helper');
      const theirs = r.items.find((x) => x.author === 'customer');
      wrap.replaceChildren(wrap.firstChild);
      if (mine) wrap.append(...[h('p', {}, t('rev.yours', { n: mine.rating })), mine.text ? h('blockquote', {}, mine.text) : null].filter(Boolean));
      else wrap.append(form);
      if (theirs) wrap.append(...[h('p', {}, t('rev.theirs', { n: theirs.rating })), theirs.text ? h('blockquote', {}, theirs.text) : null].filter(Boolean));
      else if (r.hidden_from_you || mine) wrap.append(h('p', { class: 'hint' }, t('rev.hidden')));
    } catch { wrap.append(form); }
  };
  showReviews();
  return { section: wrap, refresh: showReviews, setOffline: (off) => { submit.disabled = off; } };
}

function timeline(b) {
  if (!b.timeline?.length) return null;
  return h('details', { class: 'panel disclosure' }, h('summary', {}, t('job.timeline')),
    h('ol', { class: 'timeline' }, ...b.timeline.filter((e) => e.action !== 'address_revealed').map((e) => h('li', {},
      h('span', { class: 'hint' }, formatDateTime(e.at)), ' ',
      `${t(`actor.${e.actor}`)}: ${stateName(e.to_state)}`, e.note ? ` — ${e.note}` : ''))));
}
