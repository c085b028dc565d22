// The helper's profile page: vetting (apply with identity, IBAN and the code-of-conduct quiz; the
// decision with its reason; one appeal), skills, languages, home and travel radius with the
// service area drawn as SVG, and the calendar link.
import { $, h, t, api, formatDateTime } from './common.js';
import { field, errorBox, showError, busy, toast, nextId, isCode, isNetworkError, setOffline, errorText } from './helper-ui.js';
import { session, route, signOut } from './helper.js';

const ZURICH = { lat: 47.3779, lon: 8.5403 };
const LANGS = ['de', 'fr', 'it', 'en'];

export async function loadApplication() {
  try {
    session.application = await api('/v1/helper/application');
  } catch (err) {
    if (isCode(err, 'no_application')) session.application = null;
    else throw err;
  }
  return session.application;
}

export async function renderProfile(root) {
  root.append(h('h1', { tabindex: '-1' }, t('profile.title')));
  const appSlot = h('div', {});
  const profileSlot = h('div', {});
  const calSlot = h('div', {});
  root.append(appSlot, profileSlot, calSlot, accountSection());
  await Promise.all([
    drawApplication(appSlot),
    drawProfile(profileSlot),
    drawCalendar(calSlot),
  ]);
}

/* ---------- vetting ---------- */

const quizText = (s) => { const k = `q:${s}`; const v = t(k); return v === k ? s : v; };

async function drawApplication(slot) {
  const id = nextId('app');
  const wrap = h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, t('app.title')));
  slot.replaceChildren(wrap);
  try {
    await loadApplication();
  } catch (err) {
    if (isNetworkError(err)) setOffline(true);
    wrap.append(h('p', { class: 'error', role: 'alert' }, errorText(err)));
    return;
  }
  const a = session.application;
  if (!a) { await applyForm(wrap, slot); return; }
  wrap.append(...[
    h('p', {}, h('span', { class: `badge app-${a.status}` }, t(`app.status.${a.status}`))),
    h('p', {}, t(`app.explain.${a.status}`)),
    h('p', { class: 'hint' }, t('app.submitted', { when: formatDateTime(a.submitted_at) })),
    a.reason ? h('div', { class: 'reason' }, h('h3', {}, t('app.reason')), h('blockquote', {}, a.reason)) : null].filter(Boolean));
  if (['rejected', 'suspended'].includes(a.status) && !a.appealed) wrap.append(appealForm(slot));
  else if (a.appealed && a.status !== 'appealed') wrap.append(h('p', { class: 'hint' }, t('app.appeal.used')));
}

async function applyForm(wrap, slot) {
  wrap.append(h('p', {}, t('app.intro')));
  let quiz = [];
  try { quiz = await api('/v1/helper/application/quiz'); } catch (err) { wrap.append(h('p', { class: 'error' }, errorText(err))); return; }
  const err = errorBox();
  const questions = quiz.map((q, i) => {
    const name = `quiz-${i}`;
    return h('fieldset', { class: 'quiz' }, h('legend', {}, `${i + 1}. ${quizText(q.question)}`),
      ...q.options.map((o, j) => {
        const oid = `${name}-${j}`;
        return h('div', { class: 'choice' }, h('input', { type: 'radio', name, id: oid, value: String(j), required: true }), h('label', { for: oid }, quizText(o)));
      }));
  });
  const submit = h('button', { class: 'button block', type: 'submit' }, t('app.submit'));
  const form = h('form', { class: 'form', novalidate: true },
    field(t('app.legal_name'), { name: 'legal_name', autocomplete: 'name', required: true }, t('app.legal_name.hint')),
    field(t('app.birth_date'), { name: 'birth_date', type: 'date', autocomplete: 'bday', required: true }, t('app.birth_date.hint')),
    field(t('app.iban'), { name: 'iban', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'CH93 0076 2011 6238 5295 7' }, t('app.iban.hint')),
    h('h3', {}, t('app.quiz')), h('p', { class: 'hint' }, t('app.quiz.hint')),
    ...questions, err, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const answers = quiz.map((_, i) => f.get(`quiz-${i}`));
    if (answers.some((x) => x == null)) { showError(err, t('app.quiz.missing')); return; }
    busy(submit, async () => {
      session.application = await api('/v1/helper/application', {
        method: 'POST',
        body: {
          legal_name: String(f.get('legal_name')).trim(),
          birth_date: String(f.get('birth_date')),
          iban: String(f.get('iban')).replace(/\s+/g, '').toUpperCase(),
          quiz_answers: answers.map(Number),
        },
      });
      toast(t('app.sent'));
      await drawApplication(slot);
      $('h2', slot)?.focus();
    }, err);
  });
  wrap.append(form);
}

function appealForm(slot) {
  const err = errorBox();
  const submit = h('button', { class: 'button', type: 'submit' }, t('app.appeal.submit'));
  const form = h('form', { class: 'form', novalidate: true },
    field(t('app.appeal.text'), { tag: 'textarea', name: 'text', rows: 4, minlength: 10, maxlength: 2000, required: true }, t('app.appeal.hint')),
    err, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('textarea', form).value.trim();
    if (text.length < 10) { showError(err, t('app.appeal.short')); return; }
    busy(submit, async () => {
      session.application = await api('/v1/helper/application/appeal', { method: 'POST', body: { text } });
      toast(t('app.appeal.sent'));
      await drawApplication(slot);
    }, err);
  });
  return h('div', { class: 'appeal' }, h('h3', {}, t('app.appeal.title')), form);
}

/* ---------- profile and service area ---------- */

async function drawProfile(slot) {
  const id = nextId('prof');
  const wrap = h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, t('prof.title')));
  slot.replaceChildren(wrap);
  let profile = null;
  let catalog = [];
  try {
    [profile, catalog] = await Promise.all([
      api('/v1/helper/profile').catch((err) => { if (isCode(err, 'profile_missing')) return null; throw err; }),
      api('/v1/catalog').then((c) => c.items || c),
    ]);
  } catch (err) {
    wrap.append(h('p', { class: 'error', role: 'alert' }, errorText(err)));
    return;
  }
  const missing = profile ? null : h('p', { class: 'notice-inline' }, t('prof.missing'));
  if (missing) wrap.append(missing);
  const skills = [...new Set(catalog.map((s) => s.skill))];
  const has = new Set(profile?.skills || []);
  const speaks = new Set(profile?.languages || []);
  const home = { ...(profile?.home || ZURICH) };
  let radius = profile?.travel_radius_km || 3;

  const skillBox = h('fieldset', { class: 'checks' }, h('legend', {}, t('prof.skills')),
    ...skills.map((s) => {
      const sid = `skill-${s}`;
      const services = catalog.filter((c) => c.skill === s).map((c) => { const k = `svc.${c.slug}`; const v = t(k); return v === k ? c.name : v; });
      return h('div', { class: 'choice' }, h('input', { type: 'checkbox', name: 'skills', value: s, id: sid, checked: has.has(s), 'aria-describedby': `${sid}-d` }),
        h('label', { for: sid }, t(`skill.${s}`)), h('span', { class: 'hint block', id: `${sid}-d` }, services.join(', ')));
    }));
  const langBox = h('fieldset', { class: 'checks inline' }, h('legend', {}, t('prof.languages')),
    ...LANGS.map((l) => h('span', { class: 'choice' }, h('input', { type: 'checkbox', name: 'languages', value: l, id: `lang-${l}`, checked: speaks.has(l) }),
      h('label', { for: `lang-${l}` }, t(`lang.${l}`)))));
  const latF = field(t('prof.lat'), { name: 'lat', type: 'number', step: '0.0001', min: '-90', max: '90', value: home.lat.toFixed(4), inputmode: 'decimal' });
  const lonF = field(t('prof.lon'), { name: 'lon', type: 'number', step: '0.0001', min: '-180', max: '180', value: home.lon.toFixed(4), inputmode: 'decimal' });
  const radiusOut = h('output', { for: 'radius' }, t('prof.km', { n: radius }));
  const radiusInput = h('input', { type: 'range', id: 'radius', name: 'travel_radius_km', min: '1', max: '15', step: '1', value: String(radius) });
  const radiusField = h('div', { class: 'field' }, h('label', { for: 'radius' }, t('prof.radius'), ' ', radiusOut), radiusInput);
  const bio = field(t('prof.bio'), { tag: 'textarea', name: 'bio', rows: 3, maxlength: 1000, value: profile?.bio || '' });
  const map = h('div', { class: 'map-wrap' });
  const areaNote = h('p', { class: 'hint', 'aria-live': 'polite' });
  const geoBtn = h('button', { class: 'button secondary', type: 'button' }, t('prof.locate'));
  const err = errorBox();
  const submit = h('button', { class: 'button block', type: 'submit' }, t('prof.save'));

  const redraw = () => {
    const saved = profile && profile.home.lat === home.lat && profile.home.lon === home.lon && profile.travel_radius_km === radius;
    const cells = { outlines: profile?.service_area_outlines || [], current: Boolean(saved) };
    map.replaceChildren(serviceMap(home, radius, (p) => { home.lat = p.lat; home.lon = p.lon; syncInputs(); redraw(); }, cells));
    areaNote.textContent = saved
      ? t('prof.cells', { n: profile.service_area.length })
      : t('prof.unsaved');
  };
  const syncInputs = () => { $('input', latF).value = home.lat.toFixed(4); $('input', lonF).value = home.lon.toFixed(4); };
  for (const [f, key] of [[latF, 'lat'], [lonF, 'lon']]) {
    $('input', f).addEventListener('change', () => {
      const v = Number($('input', f).value);
      if (Number.isFinite(v)) { home[key] = v; redraw(); }
    });
  }
  radiusInput.addEventListener('input', () => {
    radius = Number(radiusInput.value);
    radiusOut.textContent = t('prof.km', { n: radius });
    redraw();
  });
  geoBtn.addEventListener('click', () => {
    if (!navigator.geolocation) { showError(err, t('prof.locate.none')); return; }
    navigator.geolocation.getCurrentPosition((pos) => {
      home.lat = Math.round(pos.coords.latitude * 1e4) / 1e4;
      home.lon = Math.round(pos.coords.longitude * 1e4) / 1e4;
      syncInputs();
      redraw();
    }, () => showError(err, t('prof.locate.denied')));
  });

  const form = h('form', { class: 'form', novalidate: true },
    skillBox, langBox,
    h('h3', {}, t('prof.area')), h('p', { class: 'hint' }, t('prof.area.hint')),
    map, areaNote, radiusField, h('div', { class: 'field-row' }, latF, lonF), geoBtn,
    bio, err, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const chosen = f.getAll('skills').map(String);
    if (!chosen.length) { showError(err, t('prof.skills.missing')); $('input', skillBox).focus(); return; }
    busy(submit, async () => {
      profile = await api('/v1/helper/profile', {
        method: 'PUT',
        body: {
          skills: chosen,
          languages: f.getAll('languages').map(String),
          home: { lat: home.lat, lon: home.lon },
          travel_radius_km: radius,
          bio: String(f.get('bio') || '').trim(),
        },
      });
      home.lat = profile.home.lat;
      home.lon = profile.home.lon;
      toast(t('prof.saved'));
      missing?.remove();
      redraw();
    }, err);
  });
  wrap.append(form);
  redraw();
}

// The service area as SVG, drawn without map tiles: a 1-km grid around home in a local
// equirectangular projection, the saved H3 cells (their outlines come with the profile), the
// travel-radius circle and the home point. While home or radius have unsaved changes the saved
// cells are drawn faded: they are still the area customers can book in.
// Click or tap the map (or use the arrow keys while it has focus) to move home.
export function serviceMap(home, radiusKm, onMove, { outlines = [], current = true } = {}) {
  const NS = 'http://www.w3.org/2000/svg';
  const s = (tag, attrs = {}, ...kids) => {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    el.append(...kids);
    return el;
  };
  const kmPerLat = 110.574;
  const kmPerLon = 111.32 * Math.cos((home.lat * Math.PI) / 180);
  // km east and south of home (SVG y grows downwards).
  const km = ([lat, lon]) => [(lon - home.lon) * kmPerLon, (home.lat - lat) * kmPerLat];
  // The saved cells reach a little beyond the radius (coarser cells where a whole parent is
  // covered): fit them in. Faded cells of a home moved elsewhere may fall off the map.
  let reach = radiusKm + 1.5;
  for (const ring of current ? outlines : []) {
    for (const corner of ring) {
      const [x, y] = km(corner);
      reach = Math.max(reach, Math.abs(x) + 0.3, Math.abs(y) + 0.3);
    }
  }
  const half = Math.min(Math.max(3, reach), 40); // km from centre to edge
  const size = 300;
  const scale = size / (2 * half); // px per km
  const step = half > 8 ? 2 : 1;
  const grid = s('g', { class: 'map-grid' });
  for (let k = -Math.floor(half / step) * step; k <= half; k += step) {
    const p = size / 2 + k * scale;
    grid.append(s('line', { x1: p, y1: 0, x2: p, y2: size }), s('line', { x1: 0, y1: p, x2: size, y2: p }));
  }
  const px = (corner) => {
    const [x, y] = km(corner);
    return `${(size / 2 + x * scale).toFixed(1)},${(size / 2 + y * scale).toFixed(1)}`;
  };
  const cells = s('g', { class: current ? 'map-cells' : 'map-cells stale', 'aria-hidden': 'true' },
    ...outlines.filter((ring) => ring.length >= 3).map((ring) => s('polygon', { points: ring.map(px).join(' '), class: 'map-cell' })));
  const titleId = nextId('map-title');
  const descId = nextId('map-desc');
  const svg = s('svg', {
    viewBox: `0 0 ${size} ${size}`, class: 'service-map', role: 'img', tabindex: '0', 'aria-labelledby': `${titleId} ${descId}`,
  },
  s('title', { id: titleId }, t('map.title')),
  s('desc', { id: descId }, [
    t('map.desc', { r: radiusKm, lat: home.lat.toFixed(4), lon: home.lon.toFixed(4) }),
    outlines.length ? t(current ? 'map.cells' : 'map.cells.stale', { n: outlines.length }) : '',
  ].filter(Boolean).join(' ')),
  s('rect', { x: 0, y: 0, width: size, height: size, class: 'map-bg' }),
  cells,
  grid,
  s('circle', { cx: size / 2, cy: size / 2, r: radiusKm * scale, class: outlines.length ? 'map-area outline' : 'map-area' }),
  s('circle', { cx: size / 2, cy: size / 2, r: 7, class: 'map-home' }),
  s('text', { x: size / 2, y: size / 2 - 12, 'text-anchor': 'middle', class: 'map-label' }, t('map.home')),
  // Scale bar and north arrow.
  s('line', { x1: 12, y1: size - 14, x2: 12 + step * scale, y2: size - 14, class: 'map-scale' }),
  s('text', { x: 12, y: size - 20, class: 'map-label small' }, `${step} km`),
  s('text', { x: size - 16, y: 22, 'text-anchor': 'middle', class: 'map-label' }, 'N'),
  s('path', { d: `M${size - 16} 28 l-5 12 h10 z`, class: 'map-north' }));
  const move = (dxKm, dyKm) => onMove({
    lat: Math.round((home.lat - dyKm / kmPerLat) * 1e4) / 1e4,
    lon: Math.round((home.lon + dxKm / kmPerLon) * 1e4) / 1e4,
  });
  svg.addEventListener('click', (e) => {
    const box = svg.getBoundingClientRect();
    const x = ((e.clientX - box.left) / box.width) * size;
    const y = ((e.clientY - box.top) / box.height) * size;
    move((x - size / 2) / scale, (y - size / 2) / scale);
    requestAnimationFrame(() => document.querySelector('.service-map')?.focus());
  });
  svg.addEventListener('keydown', (e) => {
    const d = { ArrowLeft: [-0.25, 0], ArrowRight: [0.25, 0], ArrowUp: [0, -0.25], ArrowDown: [0, 0.25] }[e.key];
    if (!d) return;
    e.preventDefault();
    move(...d);
    requestAnimationFrame(() => document.querySelector('.service-map')?.focus());
  });
  return h('figure', { class: 'map-figure' }, svg, h('figcaption', { class: 'hint' }, t('map.caption')));
}

/* ---------- calendar ---------- */

async function drawCalendar(slot) {
  let cal;
  try {
    cal = await api('/v1/helper/calendar');
  } catch {
    slot.replaceChildren(); // not offered by this server (yet): no section
    return;
  }
  if (!cal?.url) return;
  const id = nextId('cal');
  const url = new URL(cal.url, location.origin).href;
  const copy = h('button', { class: 'button secondary', type: 'button' }, t('cal.copy'));
  copy.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(url); toast(t('cal.copied')); } catch { toast(t('cal.copy.failed')); }
  });
  const webcal = url.replace(/^https?:/, 'webcal:');
  slot.replaceChildren(h('section', { class: 'panel', 'aria-labelledby': id },
    h('h2', { id }, t('cal.title')),
    h('p', {}, t('cal.text')),
    h('p', { class: 'url-box' }, h('a', { href: webcal }, t('cal.subscribe'))),
    h('label', { for: `${id}-url` }, t('cal.url')),
    h('input', { id: `${id}-url`, type: 'text', readonly: true, value: url, class: 'mono' }),
    h('div', { class: 'actions' }, copy),
    h('p', { class: 'hint' }, t('cal.private'))));
}

/* ---------- account ---------- */

function accountSection() {
  const id = nextId('acct');
  const me = session.me;
  return h('section', { class: 'panel', 'aria-labelledby': id },
    h('h2', { id }, t('acct.title')),
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, t('auth.name')), h('dd', {}, me.name)),
      h('div', {}, h('dt', {}, t('auth.email')), h('dd', {}, me.email))),
    h('p', { class: 'hint' }, t('acct.lang')),
    h('button', { class: 'button secondary block', type: 'button', id: 'logout', onclick: signOut }, t('auth.signout')));
}

export const refreshProfile = () => route({ keepFocus: true });
