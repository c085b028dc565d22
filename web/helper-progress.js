// The helper's progress (#progress): the level and since when, what the next level needs (one bar
// per published threshold of GET /v1/levels, drawn as SVG), every figure of the last 90 days with
// its definition and the bookings it counts, level changes with their reasons, earned badges,
// contests of a figure, the ranking opt-in and the neighbourhood leaderboard.
import { h, t, api, lang, locale, formatDate, formatDateTime, addStrings } from './common.js';
import { field, errorBox, showError, busy, toast, nextId, errorText, isNetworkError, setOffline } from './helper-ui.js';
import { session, serviceName } from './helper.js';

const SVG = 'http://www.w3.org/2000/svg';
const LEVELS = ['new', 'trusted', 'super'];
const COUNTS = ['jobs_completed', 'ratings', 'helper_cancellations', 'no_shows', 'failed_visits', 'disputes_lost'];

// The demo region's postcodes with their centres (as in crates/matching/src/postcodes.rs), to find
// the postcode nearest to the helper's home: its neighbourhood's leaderboard is the helper's own.
const POSTCODES = [
  ['8001', 'Altstadt', 47.3720, 8.5410], ['8002', 'Enge', 47.3640, 8.5310], ['8003', 'Wiedikon', 47.3690, 8.5180],
  ['8004', 'Aussersihl', 47.3790, 8.5270], ['8005', 'Industriequartier', 47.3860, 8.5210], ['8006', 'Unterstrass', 47.3880, 8.5430],
  ['8008', 'Seefeld', 47.3560, 8.5550], ['8032', 'Hottingen', 47.3700, 8.5630], ['8037', 'Wipkingen', 47.3940, 8.5290],
  ['8038', 'Wollishofen', 47.3460, 8.5300], ['8041', 'Leimbach', 47.3280, 8.5150], ['8044', 'Fluntern', 47.3780, 8.5620],
  ['8045', 'Alt-Wiedikon', 47.362, 8.52], ['8046', 'Affoltern', 47.4200, 8.5100], ['8047', 'Albisrieden', 47.3760, 8.4870],
  ['8048', 'Altstetten', 47.3890, 8.4870], ['8049', 'Höngg', 47.4030, 8.4970], ['8050', 'Oerlikon', 47.4110, 8.5440],
  ['8051', 'Schwamendingen', 47.4050, 8.5710], ['8052', 'Seebach', 47.4240, 8.5430], ['8053', 'Witikon', 47.3570, 8.5920],
  ['8055', 'Friesenberg', 47.3620, 8.5000], ['8057', 'Unterstrass', 47.396, 8.544], ['8105', 'Regensdorf', 47.4340, 8.4680],
  ['8134', 'Adliswil', 47.3100, 8.5250], ['8152', 'Opfikon', 47.4310, 8.5680], ['8302', 'Kloten', 47.4520, 8.5850],
  ['8303', 'Bassersdorf', 47.4430, 8.6290], ['8304', 'Wallisellen', 47.4150, 8.5960], ['8600', 'Dübendorf', 47.3970, 8.6180],
  ['8604', 'Volketswil', 47.3900, 8.6910], ['8610', 'Uster', 47.3480, 8.7180], ['8700', 'Küsnacht', 47.3190, 8.5830],
  ['8702', 'Zollikon', 47.3400, 8.5740], ['8800', 'Thalwil', 47.2920, 8.5640], ['8802', 'Kilchberg', 47.3240, 8.5470],
  ['8803', 'Rüschlikon', 47.3070, 8.5560], ['8902', 'Urdorf', 47.3850, 8.4260], ['8952', 'Schlieren', 47.3970, 8.4470],
  ['8953', 'Dietikon', 47.4020, 8.4000],
];

/** The postcode whose centre is nearest to a point. */
export function nearestPostcode(lat, lon) {
  const k = Math.cos((lat * Math.PI) / 180);
  let best = POSTCODES[0];
  let bestD = Infinity;
  for (const p of POSTCODES) {
    const d = (p[2] - lat) ** 2 + ((p[3] - lon) * k) ** 2;
    if (d < bestD) { bestD = d; best = p; }
  }
  return best[0];
}

const num = (v, digits = 0) => new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(v);
const pct = (v) => new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 0 }).format(v);
export const levelName = (l) => t(`lvl.${l}`);
const figureName = (name) => { const k = `fig.${name}`; const v = t(k); return v === k ? name.replaceAll('_', ' ') : v; };
const figureDefinition = (f) => { const k = `fig.${f.name}.def`; const v = t(k); return v === k ? f.definition : v; };

export function figureValue(f) {
  if (f.value == null) return t('prog.no_value');
  switch (f.name) {
    case 'average_rating': return t('prog.stars', { n: num(f.value, 2) });
    case 'response_minutes': return t('prog.minutes', { n: num(f.value) });
    case 'acceptance_rate': return pct(f.value);
    default: return num(f.value);
  }
}

// The server's reasons are English sentences with figures in them; these patterns put them into
// the helper's language (anything else is shown as the server wrote it).
const WHY = [
  [/^(\d+) of (\d+) jobs completed in 90 days$/, (m) => t('why.jobs', { n: m[1], min: m[2] })],
  [/^(\d+) of (\d+) ratings$/, (m) => t('why.ratings', { n: m[1], min: m[2] })],
  [/^average rating ([\d.]+), below ([\d.]+)$/, (m) => t('why.rating', { n: num(Number(m[1]), 2), min: num(Number(m[2]), 1) })],
  [/^median answer after (\d+) minutes, more than (\d+)$/, (m) => t('why.response', { n: m[1], max: m[2] })],
  [/^no answered offers yet$/, () => t('why.no_answers')],
  [/^(\d+) % of offers accepted, below (\d+) %$/, (m) => t('why.acceptance', { n: m[1], min: m[2] })],
  [/^(\d+) cancellations, no-shows or failed visits, more than (\d+)$/, (m) => t('why.incidents', { n: m[1], max: m[2] })],
  [/^(\d+) disputes lost, more than (\d+)$/, (m) => t('why.disputes', { n: m[1], max: m[2] })],
];
function whyText(s) {
  for (const [re, fn] of WHY) { const m = re.exec(s); if (m) return fn(m); }
  return s;
}
const isLevel = (l) => LEVELS.includes(l);

/** A level change's reason, or the server's `next_level`, in the helper's language. */
export function reasonText(s) {
  if (!s) return '';
  let m;
  if (s === 'top level') return t('reason.top');
  if (s === 'thresholds no longer met') return t('reason.lost_any');
  if ((m = /^(\w+) thresholds met$/.exec(s)) && isLevel(m[1])) return t('reason.met', { level: levelName(m[1]) });
  if ((m = /^(\w+) no longer met: (.*)$/.exec(s)) && isLevel(m[1])) return t('reason.lost', { level: levelName(m[1]), why: whyText(m[2]) });
  if ((m = /^next level (\w+): (.*)$/.exec(s)) && isLevel(m[1])) return t('reason.next', { level: levelName(m[1]), why: whyText(m[2]) });
  if ((m = /^(\w+): (.*)$/.exec(s)) && isLevel(m[1])) return t('reason.next', { level: levelName(m[1]), why: whyText(m[2]) });
  return s;
}

/* ---------- thresholds as bars ---------- */

// Each published threshold of a level against the helper's figures: {key, label, value text, share 0..1, met}.
export function thresholdRows(th, figures) {
  const v = (name) => figures.find((f) => f.name === name)?.value ?? null;
  const rows = [];
  const atLeast = (key, have, need, text) => rows.push({ key, text, share: need > 0 ? Math.min(1, (have ?? 0) / need) : 1, met: (have ?? 0) + 1e-9 >= need });
  const atMost = (key, have, max, text) => rows.push({ key, text, share: have == null ? 0 : (have <= max ? 1 : Math.max(0, max / have)), met: have != null && have <= max + 1e-9 });
  atLeast('jobs', v('jobs_completed'), th.min_completed, t('th.jobs', { n: num(v('jobs_completed') ?? 0), min: num(th.min_completed) }));
  atLeast('ratings', v('ratings'), th.min_ratings, t('th.ratings', { n: num(v('ratings') ?? 0), min: num(th.min_ratings) }));
  // The average counts from 1 star: the bar fills from 1 to the threshold.
  const rating = v('average_rating');
  rows.push({
    key: 'rating',
    text: rating == null ? t('th.rating_none', { min: num(th.min_rating, 1) }) : t('th.rating', { n: num(rating, 2), min: num(th.min_rating, 1) }),
    share: rating == null ? 0 : Math.min(1, Math.max(0, (rating - 1) / (th.min_rating - 1))),
    met: rating != null && rating + 1e-9 >= th.min_rating,
  });
  if (th.max_response_minutes != null) {
    const r = v('response_minutes');
    atMost('response', r, th.max_response_minutes, r == null ? t('th.response_none', { max: num(th.max_response_minutes) })
      : t('th.response', { n: num(r), max: num(th.max_response_minutes) }));
  }
  if (th.min_acceptance != null) {
    const a = v('acceptance_rate');
    atLeast('acceptance', a, th.min_acceptance, t('th.acceptance', { n: a == null ? '–' : pct(a), min: pct(th.min_acceptance) }));
  }
  const incidents = (v('helper_cancellations') ?? 0) + (v('no_shows') ?? 0) + (v('failed_visits') ?? 0);
  rows.push({ key: 'incidents', text: t('th.incidents', { n: num(incidents), max: num(th.max_incidents) }), share: incidents <= th.max_incidents ? 1 : 0, met: incidents <= th.max_incidents });
  const lost = v('disputes_lost') ?? 0;
  rows.push({ key: 'disputes', text: t('th.disputes', { n: num(lost), max: num(th.max_disputes_lost) }), share: lost <= th.max_disputes_lost ? 1 : 0, met: lost <= th.max_disputes_lost });
  return rows;
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

// A bar: the track, the filled share, a tick at the threshold (the right end). Its meaning is in the text next to it.
function bar(share, met) {
  const s = svg('svg', { viewBox: '0 0 100 10', preserveAspectRatio: 'none', class: `bar${met ? ' met' : ''}`, 'aria-hidden': 'true', focusable: 'false' });
  s.append(svg('rect', { class: 'bar-track', x: 0, y: 1, width: 100, height: 8, rx: 4 }));
  if (share > 0) s.append(svg('rect', { class: 'bar-fill', x: 0, y: 1, width: Math.max(4, Math.round(share * 100)), height: 8, rx: 4 }));
  return s;
}

function thresholdList(rows) {
  return h('ul', { class: 'thresholds' }, ...rows.map((r) => h('li', { class: r.met ? 'met' : 'open', 'data-threshold': r.key },
    h('span', { class: 'th-text' },
      h('span', { class: 'th-mark', 'aria-hidden': 'true' }, r.met ? '✓' : '○'), ' ', r.text,
      h('span', { class: 'sr-only' }, ` (${r.met ? t('th.met') : t('th.open')})`)),
    bar(r.share, r.met))));
}

/* ---------- the page ---------- */

export async function renderProgress(root) {
  const status = h('p', { class: 'status', role: 'status' }, t('loading'));
  root.append(h('h1', { tabindex: '-1' }, t('prog.title')), status);
  let m; let doc; let profile; let bookings;
  try {
    [m, doc, profile, bookings] = await Promise.all([
      api('/v1/helper/metrics'),
      api('/v1/levels'),
      api('/v1/helper/profile').catch(() => null),
      api('/v1/bookings?limit=100').then((p) => p.items).catch(() => []),
    ]);
  } catch (err) {
    if (isNetworkError(err)) setOffline(true);
    status.textContent = errorText(err);
    return;
  }
  status.remove();
  markLevelNoticesRead();
  const known = new Map(bookings.map((b) => [b.id, b]));
  root.append(
    levelSection(m, doc),
    nextSection(m, doc),
    figuresSection(m, known),
    badgesSection(m, doc),
    changesSection(m),
    contestSection(m, known, root),
    rankingSection(m, profile));
}

function levelSection(m, doc) {
  const id = nextId('lvl');
  return h('section', { class: 'panel level-card', id: 'level', 'aria-labelledby': id, 'data-level': m.level },
    h('h2', { id }, t('prog.level')),
    h('p', { class: 'level-name' }, h('span', { class: `level-badge level-${m.level}` }, levelName(m.level))),
    m.level_since ? h('p', { class: 'hint', id: 'level-since' }, t('prog.since', { when: formatDateTime(m.level_since, { dateStyle: 'long' }) })) : null,
    h('p', {}, t(`lvl.${m.level}.explain`)),
    m.level === doc.preview_services_for ? h('p', { class: 'perk' }, t('prog.perk')) : null,
    h('p', { class: 'hint' }, t('prog.window', { n: m.window_days })));
}

function nextSection(m, doc) {
  const id = nextId('next');
  const at = LEVELS.indexOf(m.level);
  const next = doc.levels.find((l) => LEVELS.indexOf(l.level) === at + 1);
  const current = doc.levels.find((l) => l.level === m.level);
  const th = next || current;
  const wrap = h('section', { class: 'panel', id: 'next-level', 'aria-labelledby': id },
    h('h2', { id }, next ? t('prog.next', { level: levelName(next.level) }) : t('prog.keep', { level: levelName(m.level) })));
  if (!th) return wrap;
  if (next && m.next_level) wrap.append(h('p', { class: 'next-text' }, reasonText(m.next_level)));
  else if (!next) wrap.append(h('p', {}, t('prog.top')));
  wrap.append(h('p', { class: 'hint' }, t('prog.thresholds_lead', { n: doc.window_days })), thresholdList(thresholdRows(th, m.figures)));
  return wrap;
}

function bookingLabel(id, known) {
  const b = known.get(id);
  if (!b) return t('prog.booking', { id: id.slice(-6) });
  return `${formatDate(b.starts_at)} · ${serviceName(b)}`;
}

function figuresSection(m, known) {
  const id = nextId('fig');
  return h('section', { class: 'panel', id: 'figures', 'aria-labelledby': id },
    h('h2', { id }, t('prog.figures', { n: m.window_days })),
    h('ul', { class: 'figures' }, ...m.figures.map((f) => {
      const nameId = nextId('fname');
      return h('li', { class: 'figure', 'data-figure': f.name, 'aria-labelledby': nameId },
        h('div', { class: 'figure-head' },
          h('h3', { id: nameId }, figureName(f.name)),
          h('span', { class: 'figure-value' }, figureValue(f))),
        h('p', { class: 'hint' }, figureDefinition(f)),
        f.bookings.length
          ? h('details', { class: 'disclosure' },
            h('summary', {}, t('prog.counted', { n: f.bookings.length })),
            h('ul', { class: 'counted' }, ...f.bookings.map((b) => h('li', {},
              h('a', { href: `#job/${encodeURIComponent(b)}`, 'data-booking': b }, bookingLabel(b, known))))))
          : h('p', { class: 'hint' }, t('prog.counted_none')));
    })));
}

function badgesSection(m, doc) {
  const id = nextId('bdg');
  const name = (b) => { const k = `svc.${b.service}`; const v = t(k); return v === k ? b.service_name : v; };
  return h('section', { class: 'panel', id: 'badges', 'aria-labelledby': id },
    h('h2', { id }, t('prog.badges')),
    h('p', { class: 'hint' }, t('prog.badges_lead', { tiers: doc.badge_tiers.map((n) => num(n)).join(', ') })),
    m.badges.length
      ? h('ul', { class: 'badge-list' }, ...m.badges.map((b) => h('li', { class: 'skill-badge', 'data-service': b.service },
        h('span', { class: 'medal', 'aria-hidden': 'true' }, String(b.tier)),
        h('span', {}, h('strong', {}, name(b)), h('br'), t('badge.tier', { tier: num(b.tier), n: num(b.jobs) })))))
      : h('p', { class: 'status' }, t('prog.badges_none')));
}

function changesSection(m) {
  const id = nextId('chg');
  const changes = m.changes.filter((c) => c.from !== c.to); // newest first
  return h('section', { class: 'panel', id: 'changes', 'aria-labelledby': id },
    h('h2', { id }, t('prog.changes')),
    changes.length
      ? h('ol', { class: 'changes' }, ...changes.map((c) => h('li', {},
        h('strong', {}, t('prog.change', { from: levelName(c.from), to: levelName(c.to) })),
        h('span', { class: 'hint' }, ` · ${formatDateTime(c.at)}`),
        h('br'), reasonText(c.reason))))
      : h('p', { class: 'status' }, t('prog.changes_none')));
}

function contestSection(m, known, root) {
  const id = nextId('cst');
  const err = errorBox();
  const figSel = field(t('contest.figure'), {
    tag: 'select', name: 'figure', required: true,
    options: [...m.figures.map((f) => [f.name, figureName(f.name)]), ['level', t('contest.level')]],
  });
  const bookingSel = field(t('contest.booking'), { tag: 'select', name: 'booking_id' }, t('contest.booking_hint'));
  const text = field(t('contest.text'), { tag: 'textarea', name: 'text', rows: 4, required: true, minlength: 10, maxlength: 2000 }, t('contest.text_hint'));
  const figure = figSel.querySelector('select');
  const booking = bookingSel.querySelector('select');
  const fillBookings = () => {
    const f = m.figures.find((x) => x.name === figure.value);
    booking.replaceChildren(h('option', { value: '' }, t('contest.no_booking')),
      ...(f?.bookings || []).map((b) => h('option', { value: b }, bookingLabel(b, known))));
  };
  figure.addEventListener('change', fillBookings);
  fillBookings();
  const submit = h('button', { class: 'button', type: 'submit' }, t('contest.send'));
  const form = h('form', { class: 'form', id: 'contest-form', novalidate: true }, figSel, bookingSel, text, err, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const words = form.elements.text.value.trim();
    if (words.length < 10) { showError(err, t('contest.too_short')); form.elements.text.focus(); return; }
    busy(submit, async () => {
      const body = { figure: figure.value, text: words };
      if (booking.value) body.booking_id = booking.value;
      await api('/v1/helper/metrics/contest', { method: 'POST', body });
      toast(t('contest.sent'));
      const fresh = await api('/v1/helper/metrics');
      m.contests = fresh.contests;
      list.replaceWith(list = contestList(m));
      form.reset();
      fillBookings();
    }, err);
  });
  let list = contestList(m);
  return h('section', { class: 'panel', id: 'contests', 'aria-labelledby': id },
    h('h2', { id }, t('prog.contests')),
    h('p', { class: 'hint' }, t('contest.lead')),
    list,
    h('h3', {}, t('contest.new')),
    form);
}

function contestList(m) {
  if (!m.contests.length) return h('p', { class: 'status', id: 'contest-list' }, t('contest.none'));
  return h('ul', { class: 'cards', id: 'contest-list' }, ...m.contests.map((c) => h('li', { class: `panel contest contest-${c.status}`, 'data-contest': c.id },
    h('p', {}, h('strong', {}, c.figure === 'level' ? t('contest.level') : figureName(c.figure)), ' ',
      h('span', { class: `badge contest-status s-${c.status}` }, t(`contest.status.${c.status}`))),
    h('p', { class: 'hint' }, formatDateTime(c.created_at)),
    c.booking_id ? h('p', {}, h('a', { href: `#job/${encodeURIComponent(c.booking_id)}` }, t('contest.about_booking'))) : null,
    h('blockquote', {}, c.text),
    c.answer ? h('p', {}, h('strong', {}, `${t('contest.answer')}: `), c.answer) : null)));
}

// Leaderboards show the first name and the last name's initial (as the server does).
function publicName(full) {
  const parts = String(full || '').trim().split(/\s+/);
  return parts.length > 1 ? `${parts[0]} ${parts[parts.length - 1][0]}.` : parts[0];
}

function rankingSection(m, profile) {
  const id = nextId('rank');
  const err = errorBox();
  const switchId = nextId('optin');
  const toggle = h('input', { type: 'checkbox', id: switchId, role: 'switch', name: 'ranking_opt_in', 'aria-describedby': `${switchId}-hint` });
  toggle.checked = m.ranking_opt_in;
  const home = profile?.home;
  const mine = home ? nearestPostcode(home.lat, home.lon) : '8001';
  const pcField = field(t('rank.postcode'), {
    tag: 'select', name: 'postcode', options: POSTCODES.map(([code, place]) => [code, `${code} ${place}`]), value: mine,
  }, home ? t('rank.postcode_hint') : null);
  const postcode = pcField.querySelector('select');
  const board = h('div', { id: 'leaderboard', 'aria-live': 'polite' });
  const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Zurich', year: 'numeric', month: '2-digit' }).format(new Date()).slice(0, 7);
  const load = async () => {
    board.replaceChildren(h('p', { class: 'status' }, t('loading')));
    try {
      // The helper's own neighbourhood comes from the server (their home's cell) while the
      // chosen postcode is theirs; another postcode shows that neighbourhood's board.
      const own = m.neighbourhood && postcode.value === mine;
      const where = own ? `cell=${encodeURIComponent(m.neighbourhood.cell)}` : `postcode=${encodeURIComponent(postcode.value)}`;
      const b = await api(`/v1/rankings?${where}&month=${month}`);
      const monthName = new Intl.DateTimeFormat(`${lang()}-CH`, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(`${b.month}-01T00:00:00Z`));
      const caption = t('rank.caption', { place: b.neighbourhood, month: monthName });
      board.replaceChildren(b.items.length
        ? h('table', { class: 'leaderboard', 'data-cell': b.cell },
          h('caption', {}, caption),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('rank.rank')), h('th', { scope: 'col' }, t('rank.name')),
            h('th', { scope: 'col', class: 'num' }, t('rank.jobs')), h('th', { scope: 'col', class: 'num' }, t('rank.rating')))),
          h('tbody', {}, ...b.items.map((r) => h('tr', { class: r.name === publicName(session.me?.name) ? 'me' : null },
            h('td', {}, num(r.rank)), h('th', { scope: 'row' }, r.name, r.name === publicName(session.me?.name) ? h('span', { class: 'hint' }, ` (${t('rank.you')})`) : null),
            h('td', { class: 'num' }, num(r.jobs)), h('td', { class: 'num' }, r.rating_avg == null ? '–' : num(r.rating_avg, 1))))))
        : h('p', { class: 'status' }, `${caption}: ${t('rank.empty')}`));
    } catch (e) {
      board.replaceChildren(h('p', { class: 'error', role: 'alert' }, errorText(e)));
    }
  };
  postcode.addEventListener('change', load);
  toggle.addEventListener('change', () => {
    const want = toggle.checked;
    busy(toggle, async () => {
      try {
        await api('/v1/helper/ranking', { method: 'PUT', body: { opt_in: want } });
        m.ranking_opt_in = want;
        toast(want ? t('rank.on') : t('rank.off'));
        await load();
      } catch (e) {
        toggle.checked = !want;
        throw e;
      }
    }, err);
  });
  load();
  return h('section', { class: 'panel', id: 'ranking', 'aria-labelledby': id },
    h('h2', { id }, t('rank.title')),
    h('div', { class: 'switch-row' }, toggle, h('label', { for: switchId }, t('rank.optin'))),
    h('p', { class: 'hint', id: `${switchId}-hint` }, t('rank.optin_hint')),
    err,
    pcField,
    board);
}

/* ---------- level-change notices ---------- */

let noticeIds = [];

/** Unread level-change notices: a banner with a link to the progress page. */
export async function checkLevelNotices() {
  try {
    const page = await api('/v1/notifications?unread=true&limit=50');
    const items = page.items.filter((n) => n.kind === 'level_changed');
    noticeIds = items.map((n) => n.id);
    if (items.length) showLevelBanner(items[0].title, undefined, items[0].body);
  } catch { /* the banner is a convenience */ }
}

export function showLevelBanner(title, id, body) {
  if (id != null && !noticeIds.includes(id)) noticeIds.push(id);
  const slot = document.getElementById('notice-slot');
  if (!slot) return;
  const close = h('button', { type: 'button', class: 'icon-button small', 'aria-label': t('notice.close') }, '×');
  close.addEventListener('click', () => { slot.replaceChildren(); });
  slot.replaceChildren(h('div', { class: 'level-notice', role: 'status' },
    h('p', {}, h('strong', {}, title || t('notice.level')), ' ', body ? `${body} ` : '', h('a', { href: '#progress' }, t('notice.see'))), close));
}

function markLevelNoticesRead() {
  document.getElementById('notice-slot')?.replaceChildren();
  if (!noticeIds.length) return;
  const ids = noticeIds;
  noticeIds = [];
  api('/v1/notifications/read', { method: 'POST', body: { ids } }).catch(() => {});
}

/* ---------- strings ---------- */

const S = {
  'nav.progress': ['Progress', 'Stufe', 'Progrès', 'Progressi'],
  'prog.title': ['Your progress', 'Ihr Fortschritt', 'Vos progrès', 'I tuoi progressi'],
  'prog.level': ['Your level', 'Ihre Stufe', 'Votre niveau', 'Il tuo livello'],
  'prog.since': ['Since {when}', 'Seit {when}', 'Depuis le {when}', 'Dal {when}'],
  'prog.window': ['Levels follow your figures of the last {n} days and are recomputed after every visit.', 'Die Stufe folgt Ihren Zahlen der letzten {n} Tage und wird nach jedem Besuch neu berechnet.', 'Le niveau suit vos chiffres des {n} derniers jours et est recalculé après chaque visite.', 'Il livello segue i tuoi dati degli ultimi {n} giorni ed è ricalcolato dopo ogni visita.'],
  'prog.perk': ['Perk: you are among the first to offer preview services.', 'Vorteil: Sie bieten Vorschau-Dienste als Erste an.', 'Avantage: vous proposez les services en avant-première parmi les premiers.', 'Vantaggio: offri per primo i servizi in anteprima.'],
  // As in the level-change mails (crates/notifications).
  'lvl.new': ['New', 'Neu', 'Nouveau·elle', 'Nuovo·a'],
  'lvl.trusted': ['Trusted', 'Bewährt', 'Confirmé·e', 'Affidabile'],
  'lvl.super': ['Super-helper', 'Super-Helfer:in', 'Super-aidant·e', 'Super-aiutante'],
  'lvl.new.explain': ['Everyone starts here. New helpers get a fair share of first jobs so they can prove themselves.', 'Hier beginnen alle. Neue Helfer erhalten fair ihre ersten Einsätze, um sich zu bewähren.', 'Tout le monde commence ici. Les nouvelles aides reçoivent équitablement leurs premières missions pour faire leurs preuves.', 'Tutti iniziano qui. I nuovi aiutanti ricevono in modo equo i primi incarichi per mettersi alla prova.'],
  'lvl.trusted.explain': ['Proven and reliable: enough visits done, good ratings, hardly any let-downs.', 'Bewährt und zuverlässig: genug Besuche erledigt, gute Bewertungen, kaum Ausfälle.', 'Confirmé·e et fiable: assez de visites faites, de bonnes notes, presque aucun raté.', 'Affidabile e comprovato: abbastanza visite fatte, buone valutazioni, quasi nessun disguido.'],
  'lvl.super.explain': ['One of the few who carry the neighbourhood: many visits, top ratings, quick answers and no let-downs.', 'Eine der wenigen Stützen des Quartiers: viele Besuche, beste Bewertungen, schnelle Antworten und keine Ausfälle.', 'L’un·e des rares piliers du quartier: beaucoup de visites, d’excellentes notes, des réponses rapides et aucun raté.', 'Uno dei pochi pilastri del quartiere: molte visite, valutazioni ottime, risposte rapide e nessun disguido.'],
  'prog.next': ['What “{level}” needs', 'Was «{level}» braucht', 'Ce qu’il faut pour «{level}»', 'Cosa serve per «{level}»'],
  'prog.keep': ['What keeps you “{level}”', 'Was Sie «{level}» bleiben lässt', 'Ce qui vous garde «{level}»', 'Cosa ti mantiene «{level}»'],
  'prog.top': ['You are at the top level. Keep meeting these thresholds to stay there.', 'Sie sind auf der höchsten Stufe. Erfüllen Sie diese Schwellen weiter, um dort zu bleiben.', 'Vous êtes au niveau le plus haut. Continuez à atteindre ces seuils pour y rester.', 'Sei al livello più alto. Continua a rispettare queste soglie per restarci.'],
  'prog.thresholds_lead': ['The published thresholds over the last {n} days; all of them must hold.', 'Die veröffentlichten Schwellen der letzten {n} Tage; alle müssen erfüllt sein.', 'Les seuils publiés sur les {n} derniers jours; tous doivent être atteints.', 'Le soglie pubblicate sugli ultimi {n} giorni; devono valere tutte.'],
  'th.met': ['met', 'erfüllt', 'atteint', 'raggiunta'],
  'th.open': ['not yet met', 'noch nicht erfüllt', 'pas encore atteint', 'non ancora raggiunta'],
  'th.jobs': ['{n} of {min} jobs completed', '{n} von {min} Einsätzen erledigt', '{n} missions terminées sur {min}', '{n} di {min} incarichi completati'],
  'th.ratings': ['{n} of {min} ratings', '{n} von {min} Bewertungen', '{n} notes sur {min}', '{n} di {min} valutazioni'],
  'th.rating': ['Average rating {n}, at least {min} needed', 'Durchschnitt {n} Sterne, mindestens {min} nötig', 'Note moyenne {n}, au moins {min} requis', 'Valutazione media {n}, serve almeno {min}'],
  'th.rating_none': ['No ratings yet; an average of at least {min} is needed', 'Noch keine Bewertungen; nötig ist ein Durchschnitt von mindestens {min}', 'Pas encore de notes; une moyenne d’au moins {min} est requise', 'Ancora nessuna valutazione; serve una media di almeno {min}'],
  'th.response': ['You answer offers after {n} min (median), at most {max} min', 'Sie antworten nach {n} Min. (Median), höchstens {max} Min.', 'Vous répondez après {n} min (médiane), au plus {max} min', 'Rispondi dopo {n} min (mediana), al massimo {max} min'],
  'th.response_none': ['No answered offers yet; answer within {max} min (median)', 'Noch keine beantworteten Anfragen; antworten Sie innert {max} Min. (Median)', 'Pas encore d’offres répondues; répondez en {max} min (médiane)', 'Ancora nessuna offerta risposta; rispondi entro {max} min (mediana)'],
  'th.acceptance': ['{n} of offers accepted, at least {min}', '{n} der Anfragen angenommen, mindestens {min}', '{n} des offres acceptées, au moins {min}', '{n} delle offerte accettate, almeno {min}'],
  'th.incidents': ['{n} cancellations, no-shows or failed visits, at most {max}', '{n} Absagen, Nichterscheinen oder gescheiterte Besuche, höchstens {max}', '{n} annulations, absences ou visites échouées, au plus {max}', '{n} annullamenti, assenze o visite fallite, al massimo {max}'],
  'th.disputes': ['{n} disputes lost, at most {max}', '{n} verlorene Streitfälle, höchstens {max}', '{n} litiges perdus, au plus {max}', '{n} contestazioni perse, al massimo {max}'],
  'why.jobs': ['{n} of {min} jobs completed in 90 days', '{n} von {min} Einsätzen in 90 Tagen erledigt', '{n} missions terminées sur {min} en 90 jours', '{n} di {min} incarichi completati in 90 giorni'],
  'why.ratings': ['{n} of {min} ratings', '{n} von {min} Bewertungen', '{n} notes sur {min}', '{n} di {min} valutazioni'],
  'why.rating': ['average rating {n}, below {min}', 'Durchschnitt {n}, unter {min}', 'note moyenne {n}, sous {min}', 'valutazione media {n}, sotto {min}'],
  'why.response': ['median answer after {n} minutes, more than {max}', 'Antwort im Median nach {n} Minuten, mehr als {max}', 'réponse médiane après {n} minutes, plus de {max}', 'risposta mediana dopo {n} minuti, più di {max}'],
  'why.no_answers': ['no answered offers yet', 'noch keine beantworteten Anfragen', 'pas encore d’offres répondues', 'ancora nessuna offerta risposta'],
  'why.acceptance': ['{n} % of offers accepted, below {min} %', '{n} % der Anfragen angenommen, unter {min} %', '{n} % des offres acceptées, sous {min} %', '{n} % delle offerte accettate, sotto il {min} %'],
  'why.incidents': ['{n} cancellations, no-shows or failed visits, more than {max}', '{n} Absagen, Nichterscheinen oder gescheiterte Besuche, mehr als {max}', '{n} annulations, absences ou visites échouées, plus de {max}', '{n} annullamenti, assenze o visite fallite, più di {max}'],
  'why.disputes': ['{n} disputes lost, more than {max}', '{n} verlorene Streitfälle, mehr als {max}', '{n} litiges perdus, plus de {max}', '{n} contestazioni perse, più di {max}'],
  'reason.top': ['Top level reached.', 'Höchste Stufe erreicht.', 'Niveau le plus haut atteint.', 'Livello più alto raggiunto.'],
  'reason.lost_any': ['The thresholds are no longer met.', 'Die Schwellen sind nicht mehr erfüllt.', 'Les seuils ne sont plus atteints.', 'Le soglie non sono più raggiunte.'],
  'reason.met': ['All thresholds of “{level}” met.', 'Alle Schwellen für «{level}» erfüllt.', 'Tous les seuils de «{level}» atteints.', 'Tutte le soglie di «{level}» raggiunte.'],
  'reason.lost': ['“{level}” no longer met: {why}.', '«{level}» nicht mehr erfüllt: {why}.', '«{level}» n’est plus atteint: {why}.', '«{level}» non più raggiunto: {why}.'],
  'reason.next': ['Still missing for “{level}”: {why}.', 'Für «{level}» fehlt noch: {why}.', 'Il manque encore pour «{level}»: {why}.', 'Manca ancora per «{level}»: {why}.'],
  'prog.figures': ['Your figures (last {n} days)', 'Ihre Zahlen (letzte {n} Tage)', 'Vos chiffres ({n} derniers jours)', 'I tuoi dati (ultimi {n} giorni)'],
  'prog.no_value': ['none yet', 'noch keine', 'pas encore', 'ancora nessuno'],
  'prog.stars': ['{n} of 5', '{n} von 5', '{n} sur 5', '{n} su 5'],
  'prog.minutes': ['{n} min', '{n} Min.', '{n} min', '{n} min'],
  'prog.counted': ['Bookings counted ({n})', 'Gezählte Buchungen ({n})', 'Réservations comptées ({n})', 'Prenotazioni contate ({n})'],
  'prog.counted_none': ['No bookings counted.', 'Keine Buchungen gezählt.', 'Aucune réservation comptée.', 'Nessuna prenotazione contata.'],
  'prog.booking': ['Booking …{id}', 'Buchung …{id}', 'Réservation …{id}', 'Prenotazione …{id}'],
  'fig.jobs_completed': ['Jobs completed', 'Erledigte Einsätze', 'Missions terminées', 'Incarichi completati'],
  'fig.jobs_completed.def': ['Visits signed off by the customer in the last 90 days.', 'Besuche, die die Kundschaft in den letzten 90 Tagen abgenommen hat.', 'Visites validées par le client au cours des 90 derniers jours.', 'Visite confermate dal cliente negli ultimi 90 giorni.'],
  'fig.average_rating': ['Average rating', 'Durchschnittliche Bewertung', 'Note moyenne', 'Valutazione media'],
  'fig.average_rating.def': ['The average of the customers’ ratings (1 to 5) of visits in the last 90 days.', 'Der Durchschnitt der Bewertungen (1 bis 5) der Besuche der letzten 90 Tage.', 'La moyenne des notes des clients (1 à 5) des visites des 90 derniers jours.', 'La media delle valutazioni dei clienti (da 1 a 5) delle visite degli ultimi 90 giorni.'],
  'fig.ratings': ['Ratings', 'Bewertungen', 'Notes', 'Valutazioni'],
  'fig.ratings.def': ['How many of those visits were rated.', 'Wie viele dieser Besuche bewertet wurden.', 'Combien de ces visites ont été notées.', 'Quante di queste visite sono state valutate.'],
  'fig.response_minutes': ['Time to answer', 'Antwortzeit', 'Délai de réponse', 'Tempo di risposta'],
  'fig.response_minutes.def': ['The median minutes from a request or offer reaching you to your answer (accept or decline).', 'Der Median der Minuten, bis Sie auf eine Anfrage antworten (annehmen oder ablehnen).', 'La médiane des minutes entre l’arrivée d’une demande ou offre et votre réponse (accepter ou refuser).', 'La mediana dei minuti tra l’arrivo di una richiesta o offerta e la tua risposta (accettare o rifiutare).'],
  'fig.acceptance_rate': ['Acceptance', 'Annahmequote', 'Taux d’acceptation', 'Tasso di accettazione'],
  'fig.acceptance_rate.def': ['Requests and offers you accepted, as a share of those you answered or let expire (offers someone else took first do not count).', 'Angenommene Anfragen als Anteil aller, die Sie beantwortet oder verfallen lassen haben (was andere zuerst annahmen, zählt nicht).', 'Demandes et offres acceptées, en part de celles auxquelles vous avez répondu ou laissées expirer (celles prises d’abord par d’autres ne comptent pas).', 'Richieste e offerte accettate, in percentuale di quelle a cui hai risposto o lasciato scadere (quelle prese prima da altri non contano).'],
  'fig.helper_cancellations': ['Your cancellations', 'Ihre Absagen', 'Vos annulations', 'I tuoi annullamenti'],
  'fig.helper_cancellations.def': ['Visits you cancelled after accepting.', 'Besuche, die Sie nach der Annahme abgesagt haben.', 'Visites que vous avez annulées après les avoir acceptées.', 'Visite che hai annullato dopo averle accettate.'],
  'fig.no_shows': ['No-shows', 'Nicht erschienen', 'Absences', 'Assenze'],
  'fig.no_shows.def': ['Visits where the customer reported that you did not come.', 'Besuche, bei denen die Kundschaft meldete, dass Sie nicht kamen.', 'Visites où le client a signalé que vous n’étiez pas venu·e.', 'Visite in cui il cliente ha segnalato che non sei venuto.'],
  'fig.failed_visits': ['Failed visits', 'Gescheiterte Besuche', 'Visites échouées', 'Visite fallite'],
  'fig.failed_visits.def': ['Failed visits with a cause on your side (material missing, other); a line not active or a faulty device does not count.', 'Gescheiterte Besuche mit einer Ursache bei Ihnen (Material fehlt, anderes); eine inaktive Leitung oder ein defektes Gerät zählt nicht.', 'Visites échouées pour une cause de votre côté (matériel manquant, autre); une ligne inactive ou un appareil défectueux ne compte pas.', 'Visite fallite per una causa da parte tua (materiale mancante, altro); una linea non attiva o un apparecchio guasto non contano.'],
  'fig.disputes_lost': ['Disputes lost', 'Verlorene Streitfälle', 'Litiges perdus', 'Contestazioni perse'],
  'fig.disputes_lost.def': ['Disputes an operator decided with a refund to the customer or a penalty for you.', 'Streitfälle, die das Team mit einer Rückerstattung an die Kundschaft oder einer Busse für Sie entschied.', 'Litiges tranchés par l’équipe avec un remboursement au client ou une pénalité pour vous.', 'Contestazioni decise dal team con un rimborso al cliente o una penale per te.'],
  'prog.badges': ['Your badges', 'Ihre Abzeichen', 'Vos badges', 'I tuoi distintivi'],
  'prog.badges_lead': ['A badge for a service after {tiers} signed-off jobs of it. Customers see them on your profile.', 'Ein Abzeichen pro Dienst nach {tiers} abgenommenen Einsätzen. Die Kundschaft sieht sie auf Ihrem Profil.', 'Un badge par service après {tiers} missions validées. Les clients les voient sur votre profil.', 'Un distintivo per servizio dopo {tiers} incarichi confermati. I clienti li vedono sul tuo profilo.'],
  'prog.badges_none': ['No badges yet: your first comes after 5 signed-off jobs of one service.', 'Noch keine Abzeichen: das erste gibt es nach 5 abgenommenen Einsätzen eines Dienstes.', 'Pas encore de badge: le premier vient après 5 missions validées d’un service.', 'Ancora nessun distintivo: il primo arriva dopo 5 incarichi confermati di un servizio.'],
  'badge.tier': ['{tier} set-ups badge · {n} done', 'Abzeichen {tier} Einsätze · {n} erledigt', 'Badge {tier} interventions · {n} faites', 'Distintivo {tier} interventi · {n} fatti'],
  'prog.changes': ['Level changes', 'Stufenwechsel', 'Changements de niveau', 'Cambi di livello'],
  'prog.change': ['{from} → {to}', '{from} → {to}', '{from} → {to}', '{from} → {to}'],
  'prog.changes_none': ['No level changes yet.', 'Noch keine Stufenwechsel.', 'Pas encore de changement de niveau.', 'Ancora nessun cambio di livello.'],
  'prog.contests': ['Contest a figure', 'Eine Zahl anfechten', 'Contester un chiffre', 'Contestare un dato'],
  'contest.lead': ['Think a figure or your level is wrong, for example a booking that should not count? Tell us; an operator checks it and answers you here.', 'Stimmt eine Zahl oder Ihre Stufe nicht, etwa weil eine Buchung nicht zählen sollte? Schreiben Sie uns; das Team prüft es und antwortet hier.', 'Un chiffre ou votre niveau vous semble faux, par exemple une réservation qui ne devrait pas compter? Dites-le-nous; l’équipe vérifie et vous répond ici.', 'Un dato o il tuo livello ti sembra sbagliato, ad esempio una prenotazione che non dovrebbe contare? Scrivici; il team verifica e ti risponde qui.'],
  'contest.none': ['You have not contested anything.', 'Sie haben nichts angefochten.', 'Vous n’avez rien contesté.', 'Non hai contestato nulla.'],
  'contest.new': ['New contest', 'Neue Anfechtung', 'Nouvelle contestation', 'Nuova contestazione'],
  'contest.figure': ['Figure', 'Zahl', 'Chiffre', 'Dato'],
  'contest.level': ['My level', 'Meine Stufe', 'Mon niveau', 'Il mio livello'],
  'contest.booking': ['Booking (optional)', 'Buchung (freiwillig)', 'Réservation (facultatif)', 'Prenotazione (facoltativa)'],
  'contest.booking_hint': ['If it is about one booking: an accepted contest takes it out of your figures.', 'Wenn es um eine Buchung geht: Eine gutgeheissene Anfechtung nimmt sie aus Ihren Zahlen.', 'S’il s’agit d’une réservation: une contestation acceptée la retire de vos chiffres.', 'Se riguarda una prenotazione: una contestazione accolta la toglie dai tuoi dati.'],
  'contest.no_booking': ['Not about one booking', 'Keine bestimmte Buchung', 'Pas une réservation précise', 'Nessuna prenotazione precisa'],
  'contest.text': ['Why is it wrong?', 'Warum stimmt es nicht?', 'Pourquoi est-ce faux?', 'Perché è sbagliato?'],
  'contest.text_hint': ['10 to 2000 characters.', '10 bis 2000 Zeichen.', '10 à 2000 caractères.', 'Da 10 a 2000 caratteri.'],
  'contest.too_short': ['Explain in at least 10 characters.', 'Erklären Sie es in mindestens 10 Zeichen.', 'Expliquez en au moins 10 caractères.', 'Spiega in almeno 10 caratteri.'],
  'contest.send': ['Send contest', 'Anfechtung senden', 'Envoyer la contestation', 'Invia contestazione'],
  'contest.sent': ['Sent. An operator will answer you here.', 'Gesendet. Das Team antwortet Ihnen hier.', 'Envoyé. L’équipe vous répondra ici.', 'Inviato. Il team ti risponderà qui.'],
  'contest.about_booking': ['Open the booking', 'Buchung öffnen', 'Ouvrir la réservation', 'Apri la prenotazione'],
  'contest.answer': ['Answer', 'Antwort', 'Réponse', 'Risposta'],
  'contest.status.open': ['Being checked', 'In Prüfung', 'En examen', 'In esame'],
  'contest.status.accepted': ['Accepted', 'Gutgeheissen', 'Acceptée', 'Accolta'],
  'contest.status.rejected': ['Rejected', 'Abgelehnt', 'Rejetée', 'Respinta'],
  'rank.title': ['Neighbourhood ranking', 'Rangliste im Quartier', 'Classement du quartier', 'Classifica del quartiere'],
  'rank.optin': ['Show me in the ranking', 'Mich in der Rangliste zeigen', 'M’afficher dans le classement', 'Mostrami nella classifica'],
  'rank.optin_hint': ['Off unless you switch it on. Only your name, your jobs this month and your average rating are shown; never where you live.', 'Aus, solange Sie es nicht einschalten. Gezeigt werden nur Ihr Name, Ihre Einsätze diesen Monat und Ihre Durchschnittsbewertung; nie Ihr Wohnort.', 'Désactivé tant que vous ne l’activez pas. Seuls votre nom, vos missions du mois et votre note moyenne sont affichés; jamais votre domicile.', 'Disattivato finché non lo attivi. Vengono mostrati solo il tuo nome, gli incarichi del mese e la valutazione media; mai dove abiti.'],
  'rank.on': ['You now appear in the ranking.', 'Sie erscheinen jetzt in der Rangliste.', 'Vous apparaissez maintenant dans le classement.', 'Ora compari nella classifica.'],
  'rank.off': ['You no longer appear in the ranking.', 'Sie erscheinen nicht mehr in der Rangliste.', 'Vous n’apparaissez plus dans le classement.', 'Non compari più nella classifica.'],
  'rank.postcode': ['Neighbourhood (postcode)', 'Quartier (PLZ)', 'Quartier (NPA)', 'Quartiere (NPA)'],
  'rank.postcode_hint': ['Preset to the postcode nearest your home: that is your neighbourhood.', 'Voreingestellt auf die PLZ nächst Ihrem Wohnort: das ist Ihr Quartier.', 'Prérempli avec le NPA le plus proche de chez vous: c’est votre quartier.', 'Preimpostato sull’NPA più vicino a casa tua: è il tuo quartiere.'],
  'rank.caption': ['{place}, {month}', '{place}, {month}', '{place}, {month}', '{place}, {month}'],
  'rank.empty': ['nobody in the ranking yet', 'noch niemand in der Rangliste', 'personne dans le classement pour l’instant', 'ancora nessuno in classifica'],
  'rank.rank': ['Rank', 'Rang', 'Rang', 'Posto'],
  'rank.name': ['Helper', 'Helfer', 'Aide', 'Aiutante'],
  'rank.jobs': ['Jobs', 'Einsätze', 'Missions', 'Incarichi'],
  'rank.rating': ['Rating', 'Bewertung', 'Note', 'Valutazione'],
  'rank.you': ['you', 'Sie', 'vous', 'tu'],
  'notice.level': ['Your level has changed.', 'Ihre Stufe hat sich geändert.', 'Votre niveau a changé.', 'Il tuo livello è cambiato.'],
  'notice.see': ['See your progress', 'Zum Fortschritt', 'Voir vos progrès', 'Vedi i tuoi progressi'],
  'notice.close': ['Close the notice', 'Hinweis schliessen', 'Fermer l’avis', 'Chiudi l’avviso'],
};
const table = { en: {}, de: {}, fr: {}, it: {} };
for (const [key, texts] of Object.entries(S)) ['en', 'de', 'fr', 'it'].forEach((l, i) => { table[l][key] = texts[i]; });
addStrings(table);
