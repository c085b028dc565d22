// KPIs: headline figures for the period, weekly charts (requests against filled, time to accept
// against the 70 %-within-2-hours benchmark, dispute and cancellation rates) drawn by our own
// charts.js, and a sortable table per neighbourhood.
import { h, t, api } from '/common.js';
import { comboChart } from '/charts.js';
import {
  sectionHead, alertBox, showError, clear, table, sortRows, field, fmtShare, fmtNumber, fmtDate, endpointMissing, notAvailable,
  fill,
} from '/ops-ui.js';

const BENCHMARK = 0.7;
let weeks = 8;
let sortKey = 'requests';
let sortDir = 'desc';

const weekLabel = (w) => (w.week ? String(w.week).replace(/^\d{4}-/, '') : fmtDate(w.from));

export async function render(root, args, ctx) {
  const error = alertBox();
  const select = h('select', { name: 'weeks' }, ...[4, 8, 12, 26].map((n) => h('option', { value: String(n) }, t('kpis.weeks_n', { n }))));
  select.value = String(weeks);
  const out = h('div', { class: 'kpis', 'aria-live': 'polite' });
  root.append(...sectionHead('kpis.title', 'kpis.lead'), h('div', { class: 'toolbar' }, field(t('kpis.period'), select)), error, out);

  async function load() {
    clear(error);
    let m;
    try {
      m = await api(`/v1/ops/metrics?weeks=${weeks}`);
    } catch (err) {
      if (endpointMissing(err)) fill(out, notAvailable());
      else showError(error, err);
      return;
    }
    if (ctx.stale()) return;
    draw(out, m);
  }
  select.addEventListener('change', () => { weeks = Number(select.value); load(); });
  await load();
}

function headline(k) {
  const card = (key, value, sub) => h('div', { class: 'kpi', 'data-kpi': key },
    h('dt', {}, t(`kpis.${key}`)), h('dd', {}, h('span', { class: 'kpi-value' }, value), sub ? h('span', { class: 'kpi-sub' }, sub) : null));
  const within2h = k.accept_within_2h;
  const meets = typeof within2h === 'number' ? within2h >= BENCHMARK : null;
  return h('dl', { class: 'kpi-grid' },
    card('requests', fmtNumber(k.requests)),
    card('fill_rate', fmtShare(k.fill_rate), t('kpis.of_requests', { n: fmtNumber(k.accepted) })),
    card('accept_within_2h', fmtShare(within2h),
      meets == null ? t('kpis.benchmark', { v: fmtShare(BENCHMARK) })
        : t(meets ? 'kpis.meets' : 'kpis.misses', { v: fmtShare(BENCHMARK) })),
    card('median_minutes_to_accept', k.median_minutes_to_accept == null ? '–' : t('kpis.minutes', { n: fmtNumber(k.median_minutes_to_accept, 1) })),
    card('completion_rate', fmtShare(k.completion_rate), t('kpis.count', { n: fmtNumber(k.completed) })),
    card('cancellation_rate', fmtShare(k.cancellation_rate), t('kpis.count', { n: fmtNumber(k.cancelled) })),
    card('no_show_rate', fmtShare(k.no_show_rate), t('kpis.count', { n: fmtNumber(k.no_shows) })),
    card('dispute_rate', fmtShare(k.dispute_rate), t('kpis.count', { n: fmtNumber(k.disputes) })),
    card('rating_avg', k.rating_avg == null ? '–' : `${fmtNumber(k.rating_avg, 2)} / 5`, t('kpis.ratings_n', { n: fmtNumber(k.ratings) })));
}

function draw(out, m) {
  const ws = m.weeks || [];
  const cats = ws.map(weekLabel);
  const pct = (v) => fmtShare(v);
  const pct0 = (v) => fmtShare(v, 0); // whole percents fit above narrow bars
  // Drawn for the space there is, so the text stays readable on a phone.
  const width = Math.round(Math.min(720, Math.max(340, (out.clientWidth || 720) - 20)));
  const height = width < 560 ? 380 : 340;
  // On a phone the bar charts lie down (each value stays next to its bar).
  const size = { width, height, horizontal: width < 560 };
  const charts = h('div', { class: 'charts' },
    h('figure', { class: 'chart-box', 'data-chart': 'volume' }, comboChart({
      ...size,
      title: t('kpis.chart.volume'), xLabel: t('kpis.axis.week'), yLabel: t('kpis.axis.requests'), categories: cats,
      bars: [{ name: t('kpis.requests'), values: ws.map((w) => w.requests) }, { name: t('kpis.filled'), values: ws.map((w) => w.accepted) }],
      format: (v) => fmtNumber(v),
    })),
    h('figure', { class: 'chart-box', 'data-chart': 'accept' }, comboChart({
      ...size,
      title: t('kpis.chart.accept'), xLabel: t('kpis.axis.week'), yLabel: t('kpis.axis.share'), categories: cats, percent: true, format: pct0, yMax: 1,
      bars: [
        { name: t('kpis.within_15m'), values: ws.map((w) => w.accept_within_15m) },
        { name: t('kpis.within_1h'), values: ws.map((w) => w.accept_within_1h) },
        { name: t('kpis.within_2h'), values: ws.map((w) => w.accept_within_2h) },
      ],
      benchmark: { value: BENCHMARK, label: t('kpis.benchmark_line') },
    })),
    h('figure', { class: 'chart-box', 'data-chart': 'rates' }, comboChart({
      ...size,
      title: t('kpis.chart.rates'), xLabel: t('kpis.axis.week'), yLabel: t('kpis.axis.share'), categories: cats, percent: true, format: pct,
      // Lines on a wide screen; on a phone bars lying down, so each rate keeps room for its text.
      [size.horizontal ? 'bars' : 'lines']: [
        { name: t('kpis.dispute_rate'), values: ws.map((w) => w.dispute_rate) },
        { name: t('kpis.cancellation_rate'), values: ws.map((w) => w.cancellation_rate) },
      ],
    })));

  const columns = [
    { key: 'name', label: t('kpis.col.name'), sort: (r) => r.name || r.cell, render: (r) => r.name || r.cell },
    { key: 'requests', label: t('kpis.requests'), num: true, sort: (r) => r.requests, render: (r) => fmtNumber(r.requests) },
    { key: 'fill_rate', label: t('kpis.fill_rate'), num: true, sort: (r) => r.fill_rate, render: (r) => fmtShare(r.fill_rate) },
    { key: 'accept_within_2h', label: t('kpis.within_2h'), num: true, sort: (r) => r.accept_within_2h, render: (r) => fmtShare(r.accept_within_2h) },
    {
      key: 'median_minutes_to_accept', label: t('kpis.col.median'), num: true, sort: (r) => r.median_minutes_to_accept,
      render: (r) => fmtNumber(r.median_minutes_to_accept, 1),
    },
    { key: 'completion_rate', label: t('kpis.completion_rate'), num: true, sort: (r) => r.completion_rate, render: (r) => fmtShare(r.completion_rate) },
    { key: 'cancellation_rate', label: t('kpis.cancellation_rate'), num: true, sort: (r) => r.cancellation_rate, render: (r) => fmtShare(r.cancellation_rate) },
    { key: 'no_show_rate', label: t('kpis.no_show_rate'), num: true, sort: (r) => r.no_show_rate, render: (r) => fmtShare(r.no_show_rate) },
    { key: 'dispute_rate', label: t('kpis.dispute_rate'), num: true, sort: (r) => r.dispute_rate, render: (r) => fmtShare(r.dispute_rate) },
    { key: 'rating_avg', label: t('kpis.rating_avg'), num: true, sort: (r) => r.rating_avg, render: (r) => fmtNumber(r.rating_avg, 2) },
  ];
  const tableBox = h('div', { class: 'table-box' });
  const hoods = m.neighbourhoods || [];
  // The first rows of the sorted table; the rest behind a button (there can be dozens).
  const FIRST = 12;
  let showAll = false;
  function drawTable(focusKey) {
    const col = columns.find((c) => c.key === sortKey) || columns[1];
    const sorted = sortRows(hoods, col, sortDir);
    const rows = showAll ? sorted : sorted.slice(0, FIRST);
    const more = hoods.length > FIRST
      ? h('button', {
        type: 'button', class: 'button secondary more', 'aria-expanded': String(showAll),
        onclick: () => { showAll = !showAll; drawTable(); tableBox.querySelector('.more')?.focus(); },
      }, showAll ? t('kpis.show_first', { n: FIRST }) : t('kpis.show_all', { n: hoods.length }))
      : null;
    fill(tableBox, hoods.length ? table(columns, rows, {
      caption: t('kpis.table_caption'), sortable: true, sortKey, sortDir,
      onSort: (key, dir) => { sortKey = key; sortDir = dir; drawTable(key); },
    }) : h('p', { class: 'empty' }, t('kpis.no_hoods')), more);
    if (focusKey) {
      const idx = columns.findIndex((c) => c.key === focusKey);
      tableBox.querySelectorAll('th[scope=col] button')[idx]?.focus();
    }
  }
  drawTable();

  fill(out, 
    h('p', { class: 'hint' }, t('kpis.range', { from: fmtDate(m.from), to: fmtDate(m.to) })),
    h('section', { 'aria-labelledby': 'kpi-overall' }, h('h2', { id: 'kpi-overall' }, t('kpis.overall')), headline(m.overall || {})),
    h('section', { 'aria-labelledby': 'kpi-weeks' }, h('h2', { id: 'kpi-weeks' }, t('kpis.per_week')), charts),
    h('section', { 'aria-labelledby': 'kpi-hoods' }, h('h2', { id: 'kpi-hoods' }, t('kpis.per_hood')), tableBox),
  );
}
