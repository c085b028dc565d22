// Working hours: weekly rules in local (Zurich) time, pause, daily maximum and notice
// (PUT /v1/helper/availability), and exceptions: days off and extra hours on a date.
import { $, h, t, api, formatDate } from './common.js';
import { field, errorBox, showError, busy, toast, nextId, quarterHours, zurichDate, errorText, isNetworkError, setOffline } from './helper-ui.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export async function renderSchedule(root) {
  root.append(h('h1', { tabindex: '-1' }, t('sched.title')), h('p', { class: 'lead' }, t('sched.lead')));
  const status = h('p', { class: 'status', role: 'status' }, t('loading'));
  root.append(status);
  let av;
  try {
    av = await api('/v1/helper/availability');
  } catch (err) {
    if (isNetworkError(err)) setOffline(true);
    status.textContent = errorText(err);
    return;
  }
  status.remove();
  const weekSlot = h('div', {});
  const excSlot = h('div', {});
  root.append(weekSlot, excSlot);
  drawWeek(weekSlot, av);
  drawExceptions(excSlot, av.exceptions);
}

function drawWeek(slot, av) {
  const id = nextId('week');
  const rules = DAYS.map((d) => av.rules.filter((r) => r.weekday === d).map((r) => ({ start: r.start, end: r.end })));
  const err = errorBox();
  const days = h('div', { class: 'days' });
  const times = quarterHours();

  const drawDays = () => {
    days.replaceChildren(...DAYS.map((d, i) => {
      const gid = `${id}-${d}`;
      const rows = rules[i].map((r, j) => {
        const startSel = h('select', { 'aria-label': t('sched.from.label', { day: t(`day.${d}`), n: j + 1 }) }, ...times.slice(0, -1).map(([v]) => h('option', { value: v }, v)));
        const endSel = h('select', { 'aria-label': t('sched.to.label', { day: t(`day.${d}`), n: j + 1 }) }, ...times.slice(1).map(([v]) => h('option', { value: v }, v)));
        startSel.value = r.start;
        endSel.value = r.end;
        startSel.addEventListener('change', () => { r.start = startSel.value; });
        endSel.addEventListener('change', () => { r.end = endSel.value; });
        const remove = h('button', { type: 'button', class: 'icon-button', 'aria-label': t('sched.remove', { day: t(`day.${d}`), from: r.start, to: r.end }) }, '×');
        remove.addEventListener('click', () => {
          rules[i].splice(j, 1);
          drawDays();
          $(`#${gid}-add`)?.focus();
        });
        return h('div', { class: 'range' }, startSel, h('span', { 'aria-hidden': 'true' }, '–'), endSel, remove);
      });
      const add = h('button', { type: 'button', class: 'button secondary small', id: `${gid}-add` }, t('sched.add'));
      add.setAttribute('aria-label', t('sched.add.label', { day: t(`day.${d}`) }));
      add.addEventListener('click', () => {
        const last = rules[i].at(-1);
        rules[i].push(last ? { start: last.end < '20:00' ? last.end : '18:00', end: last.end < '20:00' ? '21:00' : '21:00' } : { start: '09:00', end: '12:00' });
        drawDays();
        $(`#${gid} .range:last-of-type select`)?.focus();
      });
      return h('div', { class: 'day', id: gid, role: 'group', 'aria-labelledby': `${gid}-name` },
        h('h3', { id: `${gid}-name`, class: 'day-name' }, t(`day.${d}`)),
        rows.length ? rows : h('p', { class: 'hint' }, t('sched.off')),
        add);
    }));
  };
  drawDays();

  const paused = h('input', { type: 'checkbox', id: `${id}-paused`, checked: av.paused });
  const maxJobs = field(t('sched.max'), { tag: 'select', name: 'max', options: [['', t('sched.max.none')], ...[1, 2, 3, 4, 5, 6, 8, 10].map((n) => [String(n), String(n)])], value: av.max_jobs_per_day == null ? '' : String(av.max_jobs_per_day) });
  const notice = field(t('sched.notice'), {
    tag: 'select', name: 'notice',
    options: [60, 120, 240, 720, 1440, 2880].map((m) => [String(m), m < 1440 ? t('sched.hours', { n: m / 60 }) : t('sched.days', { n: m / 1440 })]),
    value: String(av.min_notice_minutes),
  });
  const submit = h('button', { class: 'button block', type: 'submit' }, t('sched.save'));
  const form = h('form', { class: 'form', novalidate: true },
    days,
    h('div', { class: 'choice' }, paused, h('label', { for: `${id}-paused` }, t('sched.paused'))),
    h('div', { class: 'field-row' }, maxJobs, notice),
    err, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const flat = DAYS.flatMap((d, i) => rules[i].map((r) => ({ weekday: d, start: r.start, end: r.end })));
    const bad = flat.find((r) => r.start >= r.end);
    if (bad) { showError(err, t('sched.bad', { day: t(`day.${bad.weekday}`), from: bad.start, to: bad.end })); return; }
    const max = $('select', maxJobs).value;
    busy(submit, async () => {
      const saved = await api('/v1/helper/availability', {
        method: 'PUT',
        body: {
          time_zone: av.time_zone,
          rules: flat,
          paused: paused.checked,
          min_notice_minutes: Number($('select', notice).value),
          max_jobs_per_day: max ? Number(max) : null,
          buffer_before_minutes: av.buffer_before_minutes,
          buffer_after_minutes: av.buffer_after_minutes,
        },
      });
      Object.assign(av, saved);
      toast(t('sched.saved'));
    }, err);
  });
  slot.replaceChildren(h('section', { class: 'panel', 'aria-labelledby': id },
    h('h2', { id }, t('sched.week')), h('p', { class: 'hint' }, t('sched.zone', { zone: av.time_zone })), form));
}

function drawExceptions(slot, exceptions) {
  const id = nextId('exc');
  const err = errorBox();
  const list = h('ul', { class: 'plain-list' }, ...(exceptions.length ? exceptions.map((x) => {
    const when = x.kind === 'off'
      ? (x.until && x.until !== x.date ? t('exc.off.range', { from: formatDate(`${x.date}T12:00:00Z`), to: formatDate(`${x.until}T12:00:00Z`) }) : t('exc.off.one', { date: formatDate(`${x.date}T12:00:00Z`) }))
      : t('exc.extra.one', { date: formatDate(`${x.date}T12:00:00Z`), from: x.start, to: x.end });
    const del = h('button', { type: 'button', class: 'button secondary small', 'aria-label': t('exc.delete.label', { what: when }) }, t('exc.delete'));
    del.addEventListener('click', () => busy(del, async () => {
      await api(`/v1/helper/availability/exceptions/${encodeURIComponent(x.id)}`, { method: 'DELETE' });
      toast(t('exc.deleted'));
      drawExceptions(slot, exceptions.filter((y) => y.id !== x.id));
      $('h2', slot)?.focus();
    }, err));
    return h('li', { class: 'exc' }, h('span', {}, when), del);
  }) : [h('li', { class: 'hint' }, t('exc.none'))]));

  const today = zurichDate();
  const kindName = `${id}-kind`;
  const kindOff = h('input', { type: 'radio', name: kindName, id: `${id}-off`, value: 'off', checked: true });
  const kindExtra = h('input', { type: 'radio', name: kindName, id: `${id}-extra`, value: 'extra' });
  const date = field(t('exc.date'), { type: 'date', name: 'date', min: today, value: today, required: true });
  const until = field(t('exc.until'), { type: 'date', name: 'until', min: today }, t('exc.until.hint'));
  const start = field(t('exc.start'), { tag: 'select', name: 'start', options: quarterHours().slice(0, -1), value: '18:00' });
  const end = field(t('exc.end'), { tag: 'select', name: 'end', options: quarterHours().slice(1), value: '20:00' });
  const hours = h('div', { class: 'field-row', hidden: true }, start, end);
  const sync = () => { const extra = kindExtra.checked; hours.hidden = !extra; until.hidden = extra; };
  kindOff.addEventListener('change', sync);
  kindExtra.addEventListener('change', sync);
  const submit = h('button', { class: 'button', type: 'submit' }, t('exc.add'));
  const form = h('form', { class: 'form', novalidate: true },
    h('fieldset', { class: 'checks inline' }, h('legend', {}, t('exc.kind')),
      h('span', { class: 'choice' }, kindOff, h('label', { for: `${id}-off` }, t('exc.kind.off'))),
      h('span', { class: 'choice' }, kindExtra, h('label', { for: `${id}-extra` }, t('exc.kind.extra')))),
    date, until, hours, err, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = $('input', date).value;
    if (!d) { showError(err, t('exc.date.missing')); return; }
    const body = { kind: kindExtra.checked ? 'extra' : 'off', date: d };
    if (kindExtra.checked) { body.start = $('select', start).value; body.end = $('select', end).value; }
    else if ($('input', until).value) body.until = $('input', until).value;
    busy(submit, async () => {
      const created = await api('/v1/helper/availability/exceptions', { method: 'POST', body });
      toast(t('exc.added'));
      drawExceptions(slot, [...exceptions, created].sort((a, b) => a.date.localeCompare(b.date)));
      $('h2', slot)?.focus();
    }, err);
  });
  slot.replaceChildren(h('section', { class: 'panel', 'aria-labelledby': id },
    h('h2', { id, tabindex: '-1' }, t('exc.title')), list, h('h3', {}, t('exc.new')), form));
}
