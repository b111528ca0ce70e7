// A tiny SVG line chart (no library): train vs validation per epoch.

import { el } from './dom.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const H = 230;
let W = 480;
const PAD = { left: 48, right: 14, top: 12, bottom: 36 };

export const TRAIN_COLOR = '#2457d6';
export const VAL_COLOR = '#d9480f';

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(values, fixedMax) {
  if (fixedMax !== undefined) return fixedMax;
  const max = Math.max(0, ...values.filter(Number.isFinite));
  if (max <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  return Math.ceil((max * 1.1) / magnitude) * magnitude;
}

function axes(root, count, yMax, format) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  for (let i = 0; i <= 4; i += 1) {
    const y = PAD.top + plotH - (plotH * i) / 4;
    root.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, stroke: '#e3e7ed', 'stroke-width': 1 }));
    root.append(svg('text', { x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', 'font-size': 12, fill: '#56606d' },
      format((yMax * i) / 4)));
  }
  const step = Math.max(1, Math.ceil(count / 10));
  for (let e = 1; e <= count; e += step) {
    const x = xFor(e, count, plotW);
    root.append(svg('text', { x, y: H - PAD.bottom + 18, 'text-anchor': 'middle', 'font-size': 12, fill: '#56606d' }, e));
  }
  root.append(svg('text', { x: PAD.left + plotW / 2, y: H - 4, 'text-anchor': 'middle', 'font-size': 12, fill: '#56606d' },
    'epoch'));
}

function xFor(epoch, count, plotW) {
  return count <= 1 ? PAD.left + plotW / 2 : PAD.left + ((epoch - 1) * plotW) / (count - 1);
}

function line(root, values, count, yMax, { color, dashed, name, format }) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const points = values
    .map((v, i) => (Number.isFinite(v) ? [xFor(i + 1, count, plotW), PAD.top + plotH - (plotH * Math.min(v, yMax)) / yMax, v, i + 1] : null))
    .filter(Boolean);
  if (points.length > 1) {
    root.append(svg('polyline', {
      points: points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' '), fill: 'none', stroke: color,
      'stroke-width': 2.5, 'stroke-dasharray': dashed ? '6 4' : 'none', 'stroke-linejoin': 'round',
    }));
  }
  for (const [x, y, v, epoch] of points) {
    const dot = svg('circle', { cx: x, cy: y, r: 4, fill: dashed ? '#fff' : color, stroke: color, 'stroke-width': 2 });
    dot.append(svg('title', {}, `${name}, epoch ${epoch}: ${format(v)}`));
    root.append(dot);
  }
}

/**
 * Build a <figure> with an SVG chart of train/validation values per epoch.
 * `series`: [{name, values, dashed, color}]; `yMax` fixes the scale (1 for accuracy); `format` labels values;
 * `width`: the width it will be drawn at, in CSS pixels.
 */
export function lineChart({ id, title, series, yMax, width = 480, format = (v) => v.toFixed(2) }) {
  // The viewBox matches the drawn size, so 12-unit labels stay 12 px on phones too.
  W = Math.max(260, Math.round(width));
  const count = Math.max(0, ...series.map((s) => s.values.length));
  const max = niceMax(series.flatMap((s) => s.values), yMax);
  const summary = series
    .map((s) => `${s.name}: ${s.values.filter(Number.isFinite).map(format).join(', ') || 'no values'}`)
    .join('; ');
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title} per epoch. ${summary}` });
  axes(root, count, max, format);
  for (const s of series) line(root, s.values, count, max, { ...s, format });
  const legend = el('div', { class: 'chart-legend', 'aria-hidden': 'true' },
    series.map((s) => el('span', {}, el('span', { class: `legend-line${s.dashed ? ' is-val' : ''}` }), s.name)));
  const figure = el('figure', { class: 'chart', id }, el('figcaption', { text: title }));
  figure.append(root, legend);
  return figure;
}
