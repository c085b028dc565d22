// Coverage: the server-drawn map of H3 cells (supply, demand, unfilled demand, with its legend)
// and a table of the cells, those with unfilled demand first.
import { h, t, api } from '/common.js';
import { sectionHead, alertBox, showError, clear, table, fmtNumber, endpointMissing, notAvailable, fill,
} from '/ops-ui.js';

// The SVG text → an <svg> node for this document, without anything executable.
export function svgFromText(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const svg = doc.documentElement;
  if (!svg || svg.nodeName.toLowerCase() !== 'svg' || doc.getElementsByTagName('parsererror').length) return null;
  for (const bad of svg.querySelectorAll('script, foreignObject')) bad.remove();
  for (const el of [svg, ...svg.querySelectorAll('*')]) {
    for (const attr of [...el.attributes]) {
      if (/^on/i.test(attr.name) || (/href$/i.test(attr.name) && /^\s*javascript:/i.test(attr.value))) el.removeAttribute(attr.name);
    }
  }
  if (!svg.hasAttribute('viewBox') && svg.hasAttribute('width') && svg.hasAttribute('height')) {
    svg.setAttribute('viewBox', `0 0 ${parseFloat(svg.getAttribute('width'))} ${parseFloat(svg.getAttribute('height'))}`);
  }
  svg.removeAttribute('width');
  svg.removeAttribute('height');
  return document.importNode(svg, true);
}

export async function render(root, args, ctx) {
  const error = alertBox();
  const mapBox = h('figure', { class: 'map-box', 'aria-busy': 'true' });
  const tableBox = h('div', { class: 'table-box' });
  root.append(...sectionHead('coverage.title', 'coverage.lead'), error,
    h('section', { 'aria-labelledby': 'coverage-map' }, h('h2', { id: 'coverage-map' }, t('coverage.map')), mapBox),
    h('section', { 'aria-labelledby': 'coverage-cells' }, h('h2', { id: 'coverage-cells' }, t('coverage.cells')), tableBox));
  clear(error);

  const map = (async () => {
    try {
      const res = await api('/v1/ops/coverage.svg', { raw: true });
      const svg = svgFromText(await res.text());
      if (ctx.stale()) return;
      mapBox.removeAttribute('aria-busy');
      if (!svg) { fill(mapBox, h('p', { class: 'error', role: 'alert' }, t('coverage.bad_svg'))); return; }
      svg.setAttribute('role', 'img');
      svg.classList.add('coverage-svg');
      // The server names the map (title and description); otherwise name it here.
      const title = svg.querySelector(':scope > title');
      if (!svg.hasAttribute('aria-labelledby') && !svg.hasAttribute('aria-label')) {
        if (title) {
          title.id ||= 'coverage-svg-title';
          svg.setAttribute('aria-labelledby', title.id);
        } else svg.setAttribute('aria-label', t('coverage.map'));
      }
      const frame = h('div', { class: 'map-scroll', tabindex: '0', role: 'group', 'aria-label': t('coverage.map_frame') }, svg);
      fill(mapBox, frame, h('figcaption', { class: 'hint' }, t('coverage.caption')));
    } catch (err) {
      mapBox.removeAttribute('aria-busy');
      if (endpointMissing(err)) fill(mapBox, notAvailable());
      else fill(mapBox, h('p', { class: 'error', role: 'alert' }, err.message));
    }
  })();

  const cells = (async () => {
    let data;
    try {
      data = await api('/v1/ops/coverage');
    } catch (err) {
      if (endpointMissing(err)) fill(tableBox, notAvailable());
      else showError(error, err);
      return;
    }
    if (ctx.stale()) return;
    const all = [...(data.cells || [])].sort((a, b) => (b.unfilled - a.unfilled) || (b.demand - a.demand) || String(a.name).localeCompare(String(b.name)));
    const active = all.filter((c) => c.demand > 0 || c.unfilled > 0);
    const columns = [
      { key: 'name', label: t('coverage.name'), render: (c) => c.name || c.cell },
      { key: 'cell', label: t('coverage.cell'), render: (c) => h('code', {}, c.cell) },
      { key: 'supply', label: t('coverage.supply'), num: true, render: (c) => fmtNumber(c.supply) },
      { key: 'demand', label: t('coverage.demand'), num: true, render: (c) => fmtNumber(c.demand) },
      { key: 'unfilled', label: t('coverage.unfilled'), num: true, render: (c) => (c.unfilled > 0 ? h('strong', {}, fmtNumber(c.unfilled)) : fmtNumber(c.unfilled)) },
    ];
    // Cells without requests are many (every cell a helper reaches); they wait behind a button.
    const draw = (showAll) => {
      const rows = showAll ? all : active;
      const toggle = all.length > active.length
        ? h('button', { type: 'button', class: 'button secondary', 'aria-expanded': String(showAll), onclick: () => { draw(!showAll); tableBox.querySelector('button')?.focus(); } },
          showAll ? t('coverage.show_active') : t('coverage.show_all', { n: all.length }))
        : null;
      fill(tableBox,
        rows.length ? table(columns, rows, { caption: t('coverage.table_caption'), rowClass: (c) => (c.unfilled > 0 ? 'attention' : null) })
          : h('p', { class: 'empty' }, t('ops.none')),
        !showAll && all.length > active.length ? h('p', { class: 'hint' }, t('coverage.hidden', { n: all.length - active.length })) : null,
        toggle);
    };
    draw(false);
  })();
  await Promise.all([map, cells]);
}
