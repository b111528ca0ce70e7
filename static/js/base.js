// Every page: the class-count bar (GET /api/v1/dataset); the imbalance warning is on Train and at the end of
// a labeling pass (never in the middle of labeling, where it would push the page down).

import { get } from './api.js';
import { el, paintClass, paintColors, replaceChildren } from './dom.js';

const bar = document.getElementById('class-bar');
const meter = document.getElementById('class-bar-meter');

function renderMeter(dataset) {
  if (!meter) return;
  const total = dataset.total || 0;
  const parts = dataset.classes.map((cls) => ({ color: cls.color, count: cls.count }));
  parts.push({ color: '#c3c9d1', count: dataset.unlabeled || 0 });
  replaceChildren(meter);
  if (!total) return;
  for (const part of parts) {
    if (!part.count) continue;
    const span = el('span');
    span.style.width = `${(100 * part.count) / total}%`;
    paintClass(span, part.color);
    meter.append(span);
  }
}

function renderBar(dataset) {
  const chips = dataset.classes.map((cls) =>
    paintClass(
      el('span', { class: 'chip', dataset: { class: cls.name } }, cls.name, ' ',
        el('span', { class: 'chip-count', text: cls.count })),
      cls.color,
    ),
  );
  const unlabeled = el('span', { class: 'chip chip-outline', id: 'unlabeled-count' },
    'unlabeled ', el('span', { class: 'chip-count', text: dataset.unlabeled || 0 }));
  replaceChildren(bar, el('span', { class: 'class-bar-label', text: `${dataset.total || 0} photos:` }),
    chips, unlabeled);
}

let requested = 0;
let painted = 0;

/** Reload the class counts shown on every page. */
export async function refreshClassBar() {
  if (!bar) return;
  const seq = ++requested;
  try {
    const dataset = await get('/api/v1/dataset');
    if (seq < painted) return; // an answer that arrived out of order: never paint older counts over newer
    painted = seq;
    renderBar(dataset);
    renderMeter(dataset);
    document.dispatchEvent(new CustomEvent('dataset-loaded', { detail: dataset }));
  } catch {
    // The bar is a convenience; pages report their own errors.
  }
}

// Throttle, not debounce: during fast labeling the counts refresh at a steady rate (at most every
// REFRESH_MS), and a change after the last refresh always gets a trailing one.
const REFRESH_MS = 500;
let timer = null;
let lastRun = 0;

function scheduleRefresh() {
  if (timer !== null) return; // a trailing refresh is already due and will see this change
  const wait = Math.max(0, lastRun + REFRESH_MS - Date.now());
  timer = window.setTimeout(() => {
    timer = null;
    lastRun = Date.now();
    refreshClassBar();
  }, wait);
}

paintColors(document);
refreshClassBar();
document.addEventListener('dataset-changed', scheduleRefresh);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') scheduleRefresh();
});

// Phones: the header is one row; "Menu" opens the links as a panel over the page (Escape or a tap outside closes).
function bindMenu() {
  const toggle = document.getElementById('nav-toggle');
  const header = toggle && toggle.closest('.site-header');
  if (!header) return;
  const setOpen = (open) => {
    header.classList.toggle('is-open', open);
    toggle.setAttribute('aria-expanded', String(open));
  };
  toggle.addEventListener('click', () => setOpen(toggle.getAttribute('aria-expanded') !== 'true'));
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && header.classList.contains('is-open')) {
      setOpen(false);
      toggle.focus();
    }
  });
  document.addEventListener('pointerdown', (event) => {
    if (header.classList.contains('is-open') && !header.contains(event.target)) setOpen(false);
  });
}

bindMenu();
