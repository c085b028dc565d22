// Quartier's own SVG charts: grouped bars and lines per category (week), an optional benchmark
// line, axis titles, readable values as SVG text, and an aria-label that states every number.
// No dependencies. Colours come as presentation attributes (AA on white) and ops.css overrides
// them through the class names for dark mode.

const NS = 'http://www.w3.org/2000/svg';

// s('rect', {x: 1}, child...): an SVG element.
function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) node.setAttribute(k, String(v));
  node.append(...children.filter((c) => c != null));
  return node;
}

// Series colours: each has at least 4.5:1 contrast on white, so labels drawn in them are readable
// and shapes exceed the 3:1 required of graphics.
export const PALETTE = ['#0f766e', '#b45309', '#6d28d9', '#be123c'];
const TEXT = '#1b2a28';
const MUTED = '#4b5f5c';
const GRID = '#d3e0dd';
const BENCH = '#b42318';
// A background-coloured outline behind value texts, so a grid or benchmark line never cuts them.
const HALO = { stroke: '#ffffff', 'stroke-width': 3, 'paint-order': 'stroke', 'stroke-linejoin': 'round' };

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

// A "nice" upper bound and step for a value axis starting at 0.
export function niceScale(max, ticks = 5) {
  if (!(max > 0)) return { max: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) || 10 * mag;
  return { max: Math.ceil(max / step - 1e-9) * step, step };
}

const approxWidth = (text, size) => String(text).length * size * 0.58;

let chartSeq = 0;

/**
 * A chart of categories (x) against values (y): grouped bars and/or lines.
 *
 * options: {
 *   title, xLabel, yLabel,               texts drawn in the chart
 *   categories: ['W47', ...],            x axis
 *   bars:  [{name, values: [n|null]}],   grouped bars (optional)
 *   lines: [{name, values: [n|null]}],   lines with points (optional)
 *   format: (v) => string,               value text (default: integer)
 *   percent: true,                       values are shares 0..1, axis 0..100 %
 *   benchmark: {value, label},           a dashed reference line (optional)
 *   noData: '–',                         text for a missing value
 *   summary: string,                     aria-label (default: built from the numbers)
 *   width, height                        viewBox size (default 720 x 340)
 * }
 * Returns an <svg role="img"> element.
 */
export function comboChart(options) {
  const {
    title = '', xLabel = '', yLabel = '', categories = [], bars = [], lines = [], benchmark = null,
    percent = false, noData = '–', width = 720, height = 340,
  } = options;
  const format = options.format || (percent ? (v) => `${Math.round(v * 100)}%` : (v) => String(Math.round(v)));
  const show = (v) => (isNum(v) ? format(v) : noData);
  const series = [...bars.map((b) => ({ ...b, kind: 'bar' })), ...lines.map((l) => ({ ...l, kind: 'line' }))];
  series.forEach((se, i) => { se.color = se.color || PALETTE[i % PALETTE.length]; se.index = i; });

  const id = `chart-${(chartSeq += 1)}`;
  const svg = s('svg', {
    xmlns: NS, viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart', id,
    'aria-label': options.summary || summarize({ title, categories, series, benchmark, show, xLabel }),
    preserveAspectRatio: 'xMidYMid meet',
  });
  svg.append(s('rect', { class: 'chart-bg', x: 0, y: 0, width, height, fill: '#ffffff' }));

  // Title and legend (the legend wraps onto more rows when needed).
  const titleLines = wrap(title, 16, width - 24);
  titleLines.forEach((line, i) => {
    svg.append(s('text', { class: 'chart-title', x: 12, y: 22 + i * 20, fill: TEXT, 'font-size': 16, 'font-weight': 700 }, line));
  });
  let lx = 12;
  let ly = 44 + (titleLines.length - 1) * 20;
  const legendItems = [...series.map((se) => ({ name: se.name, color: se.color, kind: se.kind, index: se.index }))];
  if (benchmark) legendItems.push({ name: benchmark.label, color: BENCH, kind: 'benchmark' });
  for (const item of legendItems) {
    const w = 22 + approxWidth(item.name, 12) + 18;
    if (lx + w > width - 12 && lx > 12) { lx = 12; ly += 20; }
    const g = s('g', { class: 'chart-legend' });
    if (item.kind === 'bar') g.append(s('rect', { class: `series-${item.index}`, x: lx, y: ly - 10, width: 14, height: 12, rx: 2, fill: item.color }));
    else if (item.kind === 'line') {
      g.append(s('line', { class: `series-${item.index}`, x1: lx, y1: ly - 4, x2: lx + 16, y2: ly - 4, stroke: item.color, 'stroke-width': 3 }));
    } else g.append(s('line', { class: 'chart-benchmark', x1: lx, y1: ly - 4, x2: lx + 16, y2: ly - 4, stroke: BENCH, 'stroke-width': 2, 'stroke-dasharray': '5 3' }));
    g.append(s('text', { class: 'chart-text', x: lx + 22, y: ly, fill: TEXT, 'font-size': 12 }, item.name));
    svg.append(g);
    lx += w;
  }

  if (options.horizontal && !lines.length) {
    drawHorizontal(svg, { top: ly + 22, width, categories, series, benchmark, percent, format, show, xLabel, yLabel, yMax: options.yMax });
    return svg;
  }

  // Plot area.
  const lineSeries = series.filter((se) => se.kind === 'line');
  const top = ly + 22;
  const left = 64;
  const right = benchmark ? 48 : 16;
  // Below the plot: the category labels, one row of values per line, the axis title.
  const bottom = 58 + lineSeries.length * 18;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const all = series.flatMap((se) => se.values).filter(isNum);
  if (benchmark && isNum(benchmark.value)) all.push(benchmark.value);
  const scale = options.yMax ? { max: options.yMax, step: options.yMax / 5 } : niceScale(Math.max(0, ...all) * 1.05);
  const tick = percent ? (v) => `${Number((v * 100).toFixed(1))}%` : format;
  const y = (v) => top + ph - (v / scale.max) * ph;

  const axis = s('g', { class: 'chart-axis' });
  for (let v = 0; v <= scale.max + 1e-9; v += scale.step) {
    const yy = y(v);
    axis.append(s('line', { class: 'chart-grid', x1: left, x2: left + pw, y1: yy, y2: yy, stroke: GRID, 'stroke-width': 1 }));
    axis.append(s('text', { class: 'chart-muted', x: left - 8, y: yy + 4, 'text-anchor': 'end', fill: MUTED, 'font-size': 12 },
      tick(v)));
  }
  axis.append(s('line', { class: 'chart-baseline', x1: left, x2: left + pw, y1: y(0), y2: y(0), stroke: MUTED, 'stroke-width': 1.5 }));
  // Axis titles.
  axis.append(s('text', { class: 'chart-text', x: left + pw / 2, y: height - 10, 'text-anchor': 'middle', fill: TEXT, 'font-size': 13 }, xLabel));
  axis.append(s('text', {
    class: 'chart-text', x: 0, y: 0, transform: `translate(16 ${top + ph / 2}) rotate(-90)`, 'text-anchor': 'middle', fill: TEXT, 'font-size': 13,
  }, yLabel));
  svg.append(axis);

  const n = Math.max(1, categories.length);
  const gw = pw / n;
  const cx = (i) => left + gw * i + gw / 2;
  categories.forEach((c, i) => {
    svg.append(s('text', { class: 'chart-muted', x: cx(i), y: top + ph + 18, 'text-anchor': 'middle', fill: MUTED, 'font-size': 12 }, c));
  });

  // Benchmark line.
  if (benchmark && isNum(benchmark.value)) {
    const yy = y(benchmark.value);
    svg.append(s('line', {
      class: 'chart-benchmark', x1: left, x2: left + pw, y1: yy, y2: yy, stroke: BENCH, 'stroke-width': 2, 'stroke-dasharray': '6 4',
    }));
    svg.append(s('text', {
      class: 'chart-benchmark-text', x: left + pw + 4, y: yy + 4, 'text-anchor': 'start', fill: BENCH, 'font-size': 12, 'font-weight': 700,
    }, show(benchmark.value)));
  }

  // Bars, each with its value above it.
  const barSeries = series.filter((se) => se.kind === 'bar');
  if (barSeries.length) {
    const inner = gw * 0.8;
    const bw = inner / barSeries.length;
    const fs = Math.max(8, Math.min(12, bw / 2.4));
    barSeries.forEach((se, k) => {
      const g = s('g', { class: `chart-bars series-${se.index}` });
      se.values.forEach((v, i) => {
        const x = left + gw * i + (gw - inner) / 2 + k * bw;
        // Narrow bars get their value turned upright: inside the bar in white when it is tall
        // enough (every series colour has 4.5:1 with white), else above it.
        const upright = bw < 16;
        const inside = upright && isNum(v) && y(0) - y(v) > approxWidth(show(v), 11) + 6;
        const base = isNum(v) ? y(v) : y(0);
        const label = upright
          ? s('text', {
            class: inside ? 'chart-value-inside' : 'chart-value', x: 0, y: 0, 'font-size': 11, fill: inside ? '#ffffff' : TEXT,
            'text-anchor': inside ? 'end' : 'start', 'font-weight': inside ? 700 : null,
            transform: `translate(${(x + bw / 2 + 4).toFixed(1)} ${(inside ? base + 4 : base - 4).toFixed(1)}) rotate(-90)`,
          }, show(v))
          : s('text', {
            class: 'chart-value', x: x + bw / 2, y: base - 4, 'text-anchor': 'middle', fill: TEXT, 'font-size': fs, ...HALO,
          }, show(v));
        if (isNum(v)) {
          g.append(s('rect', {
            x: x + 1, y: y(v), width: Math.max(1, bw - 2), height: Math.max(0, y(0) - y(v)), fill: se.color,
          }, s('title', {}, `${categories[i]}: ${se.name} ${show(v)}`)));
        }
        g.append(label);
      });
      svg.append(g);
    });
  }

  // Lines with points; their values are written in rows under the category labels (one row per
  // line, in the line's colour, marked at the left), so labels never collide with each other.
  lineSeries.forEach((se, k) => {
    const g = s('g', { class: `chart-line series-${se.index}` });
    let path = '';
    let pen = false;
    se.values.forEach((v, i) => {
      if (!isNum(v)) { pen = false; return; }
      path += `${pen ? 'L' : 'M'}${cx(i).toFixed(1)} ${y(v).toFixed(1)} `;
      pen = true;
    });
    if (path) g.append(s('path', { d: path.trim(), fill: 'none', stroke: se.color, 'stroke-width': 2.5, 'stroke-linejoin': 'round' }));
    const rowY = top + ph + 36 + k * 18;
    g.append(s('line', { class: `series-${se.index}`, x1: left - 40, x2: left - 24, y1: rowY - 4, y2: rowY - 4, stroke: se.color, 'stroke-width': 3 }));
    se.values.forEach((v, i) => {
      if (isNum(v)) g.append(s('circle', { cx: cx(i), cy: y(v), r: 4, fill: se.color }, s('title', {}, `${categories[i]}: ${se.name} ${show(v)}`)));
      g.append(s('text', {
        class: 'chart-value-line', x: cx(i), y: rowY, 'text-anchor': 'middle', fill: se.color, 'font-size': 12, 'font-weight': 700,
      }, show(v)));
    });
    svg.append(g);
  });

  return svg;
}

// Bars lying down, one group per category from top to bottom, each value written after its bar:
// the layout for a phone, where upright groups of bars get too thin to carry their numbers.
// The SVG's height grows with the number of bars.
function drawHorizontal(svg, { top, width, categories, series, benchmark, percent, format, show, xLabel, yLabel, yMax }) {
  const left = 58;
  const right = 52;
  const barH = 15;
  const gap = 12;
  const groupH = series.length * barH + gap;
  const ph = categories.length * groupH;
  const pw = width - left - right;
  const all = series.flatMap((se) => se.values).filter(isNum);
  if (benchmark && isNum(benchmark.value)) all.push(benchmark.value);
  const scale = yMax ? { max: yMax, step: yMax / 4 } : niceScale(Math.max(0, ...all) * 1.05, 4);
  const tick = percent ? (v) => `${Number((v * 100).toFixed(1))}%` : format;
  const x = (v) => left + (v / scale.max) * pw;
  const height = top + ph + 56;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.querySelector('.chart-bg').setAttribute('height', height);

  const axis = s('g', { class: 'chart-axis' });
  for (let v = 0; v <= scale.max + 1e-9; v += scale.step) {
    axis.append(s('line', { class: 'chart-grid', x1: x(v), x2: x(v), y1: top, y2: top + ph, stroke: GRID, 'stroke-width': 1 }));
    axis.append(s('text', { class: 'chart-muted', x: x(v), y: top + ph + 16, 'text-anchor': 'middle', fill: MUTED, 'font-size': 12 }, tick(v)));
  }
  axis.append(s('line', { class: 'chart-baseline', x1: x(0), x2: x(0), y1: top, y2: top + ph, stroke: MUTED, 'stroke-width': 1.5 }));
  axis.append(s('text', { class: 'chart-text', x: left + pw / 2, y: top + ph + 40, 'text-anchor': 'middle', fill: TEXT, 'font-size': 13 }, yLabel));
  axis.append(s('text', {
    class: 'chart-text', x: 0, y: 0, transform: `translate(14 ${top + ph / 2}) rotate(-90)`, 'text-anchor': 'middle', fill: TEXT, 'font-size': 13,
  }, xLabel));
  svg.append(axis);

  categories.forEach((c, i) => {
    const gy = top + i * groupH + gap / 2;
    svg.append(s('text', {
      class: 'chart-muted', x: left - 6, y: gy + (series.length * barH) / 2 + 4, 'text-anchor': 'end', fill: MUTED, 'font-size': 12,
    }, c));
  });
  if (benchmark && isNum(benchmark.value)) {
    const bx = x(benchmark.value);
    svg.append(s('line', {
      class: 'chart-benchmark', x1: bx, x2: bx, y1: top - 6, y2: top + ph, stroke: BENCH, 'stroke-width': 2, 'stroke-dasharray': '6 4',
    }));
    svg.append(s('text', {
      class: 'chart-benchmark-text', x: bx, y: top - 9, 'text-anchor': 'middle', fill: BENCH, 'font-size': 12, 'font-weight': 700,
    }, show(benchmark.value)));
  }
  series.forEach((se, k) => {
    const g = s('g', { class: `chart-bars series-${se.index}` });
    se.values.forEach((v, i) => {
      const by = top + i * groupH + gap / 2 + k * barH;
      if (isNum(v)) {
        g.append(s('rect', { x: x(0), y: by + 1, width: Math.max(1, x(v) - x(0)), height: barH - 2, fill: se.color },
          s('title', {}, `${categories[i]}: ${se.name} ${show(v)}`)));
      }
      g.append(s('text', {
        class: 'chart-value', x: (isNum(v) ? x(v) : x(0)) + 4, y: by + barH - 3, fill: TEXT, 'font-size': 11, ...HALO,
      }, show(v)));
    });
    svg.append(g);
  });
}

// Splits a text into lines that fit `max` units at font size `size` (approximately).
function wrap(text, size, max) {
  const lines = [];
  let line = '';
  for (const word of String(text).split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (line && approxWidth(next, size) > max) { lines.push(line); line = word; } else line = next;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}

// "Title. W46: Requests 12, Filled 9; W47: ... Benchmark: 70%."
function summarize({ title, categories, series, benchmark, show, xLabel }) {
  const parts = categories.map((c, i) => `${xLabel ? `${c}` : c}: ${series.map((se) => `${se.name} ${show(se.values[i])}`).join(', ')}`);
  let text = `${title}. ${parts.join('; ')}.`;
  if (benchmark && isNum(benchmark.value)) text += ` ${benchmark.label}: ${show(benchmark.value)}.`;
  return text;
}
