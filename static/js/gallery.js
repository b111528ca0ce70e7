// Gallery: a run's predictions as a grid (filters, sorts, unsure threshold, accept on unlabeled), and "Try a photo".

import { api, datasetChanged, get, patch, toast, toastError } from './api.js';
import { classChip, el, formatDate, pageData, paintClass, percent, replaceChildren, setQueryString } from './dom.js';

const PER_PAGE = 48;
const page = pageData();
const $ = (id) => document.getElementById(id);
const ui = {
  run: $('run-select'), split: $('filter-split'), label: $('filter-label'), trueLabel: $('filter-true-label'),
  sort: $('sort-select'), wrong: $('filter-wrong'), threshold: $('threshold'), thresholdValue: $('threshold-value'),
  grid: $('gallery-grid'), count: $('gallery-count'), empty: $('gallery-empty'), more: $('load-more'),
  body: $('gallery-body'), noRuns: $('gallery-no-runs'),
};
const state = { classes: [], items: [], total: 0, page: 1, token: 0 };

const threshold = () => Number(ui.threshold.value) / 100;
const SHOW_ALL = 100;

/** The default threshold for k classes: halfway between a blind guess (1/k) and certainty, as a percent
 * rounded down to the slider's 5 % steps. With two classes every confidence is at least 50 %, so 50 % would
 * hide nothing; (1/2 + 1) / 2 = 75 % keeps the guesses that are closer to a coin toss than to sure. */
export function defaultThreshold(k) {
  const n = Math.max(2, k);
  return Math.floor(((1 / n + 1) / 2) * 20) * 5;
}

function query() {
  const split = ui.split.value;
  const below = Number(ui.threshold.value) < SHOW_ALL ? threshold() : '';
  return {
    page: state.page, per_page: PER_PAGE, sort: ui.sort.value, label: ui.label.value, true_label: ui.trueLabel.value,
    wrong: ui.wrong.checked ? 1 : '', split: ['unlabeled', 'all'].includes(split) ? '' : split,
    unlabeled: split === 'unlabeled' ? 1 : '', below,
  };
}

function predictionLine(item) {
  return el('div', { class: 'tile-line' }, classChip(item.label, state.classes, 'pred-chip'),
    el('span', { class: 'confidence', text: percent(item.confidence) }));
}

function verdictLine(item) {
  if (!item.true_label) return el('div', { class: 'tile-line muted', text: 'unlabeled' });
  const right = item.true_label === item.label;
  return el('div', { class: `tile-line verdict ${right ? 'verdict-right' : 'verdict-wrong'}`, dataset: { verdict: right ? 'right' : 'wrong' } },
    right ? '✓ right' : '✗ wrong, is ', right ? null : classChip(item.true_label, state.classes));
}

function actions(item) {
  if (item.true_label) return null;
  const accept = el('button', { type: 'button', class: 'btn btn-small btn-primary accept-button',
    dataset: { label: item.label }, text: `✓ Accept “${item.label}”`, 'aria-label': `Label ${item.filename} as ${item.label}` });
  accept.addEventListener('click', () => setLabel(item, item.label));
  const other = el('select', { class: 'relabel-select', 'aria-label': `Label ${item.filename} as another class` },
    el('option', { value: '', text: 'Other class…' }),
    state.classes.filter((c) => c.name !== item.label).map((c) => el('option', { value: c.name, text: c.name })));
  other.addEventListener('change', () => other.value && setLabel(item, other.value));
  return el('div', { class: 'tile-actions' }, accept, other);
}

function tile(item) {
  const verdict = item.true_label ? (item.true_label === item.label ? ' is-right' : ' is-wrong') : '';
  const node = el('li', {
    class: `tile gallery-tile${verdict}`, tabindex: 0,
    dataset: { photoId: item.photo_id, predicted: item.label, trueLabel: item.true_label || '' },
    'aria-label': `${item.filename}: predicted ${item.label}, ${percent(item.confidence)}${item.true_label ? `, labeled ${item.true_label}` : ', unlabeled; Enter accepts'}`,
  },
  el('img', { class: 'tile-thumb', src: item.thumbnail_url, alt: item.filename, loading: 'lazy', width: 200, height: 200 }),
  el('div', { class: 'tile-body' }, predictionLine(item), verdictLine(item), actions(item),
    el('div', { class: 'tile-line' }, item.split ? el('span', { class: 'badge', text: item.split }) : null,
      el('span', { class: 'tile-name', text: item.filename, title: item.filename }))));
  node.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target === node && !item.true_label) {
      event.preventDefault();
      setLabel(item, item.label);
    }
  });
  return node;
}

async function setLabel(item, label) {
  try {
    await patch(`/api/v1/photos/${item.photo_id}`, { label });
    item.true_label = label;
    const old = ui.grid.querySelector(`.gallery-tile[data-photo-id="${item.photo_id}"]`);
    const fresh = tile(item);
    if (old) {
      const hadFocus = old.contains(document.activeElement);
      old.replaceWith(fresh);
      if (hadFocus) fresh.focus();
    }
    toast(`Saved: “${label}”`, 'success', 1500);
    datasetChanged();
  } catch (err) {
    toastError(err, 'Label not saved');
  }
}

function renderTiles() {
  replaceChildren(ui.grid, state.items.map(tile));
  const filtered = Number(ui.threshold.value) < SHOW_ALL;
  ui.count.textContent = `Showing ${state.items.length} of ${state.total}`
    + (filtered ? ` guesses less sure than ${ui.threshold.value}%` : '');
  ui.empty.hidden = state.items.length > 0;
  ui.more.hidden = state.items.length >= state.total;
}

function syncUrl() {
  const q = query();
  setQueryString({ run: ui.run.value, split: ui.split.value === 'unseen' ? '' : ui.split.value, label: q.label,
    true_label: q.true_label, wrong: q.wrong, sort: q.sort === 'confidence' ? '' : q.sort, below: ui.threshold.value });
}

async function load(reset) {
  if (!ui.run.value) return;
  const token = ++state.token;
  if (reset) state.page = 1;
  syncUrl();
  ui.more.disabled = true;
  try {
    const data = await get(`/api/v1/runs/${ui.run.value}/predictions`, query());
    if (token !== state.token) return;
    state.items = reset ? data.predictions || [] : state.items.concat(data.predictions || []);
    state.total = data.total || 0;
  } catch (err) {
    if (token !== state.token) return;
    if (reset) state.items = [];
    else state.page -= 1;
    toastError(err, 'Could not load predictions');
  } finally {
    ui.more.disabled = false;
  }
  renderTiles();
}

function runOption(run) {
  // Short enough for a phone's menu; the date is in the title.
  const parts = [`Run #${run.id}`];
  if (run.active) parts.push('★ active');
  if (run.metrics) parts.push(percent(run.metrics.accuracy, 1));
  parts.push({ vgg16: 'VGG16', mobilenet_v2: 'MobileNetV2' }[run.backbone] || run.backbone);
  return el('option', { value: run.id, text: parts.join(' · '), title: formatDate(run.finished_at || run.created_at) });
}

async function loadRuns(wanted) {
  let runs = [];
  try {
    runs = (await get('/api/v1/runs')).filter((r) => r.status === 'succeeded').sort((a, b) => b.id - a.id);
  } catch (err) {
    toastError(err, 'Could not load runs');
  }
  ui.noRuns.hidden = runs.length > 0;
  ui.body.hidden = runs.length === 0;
  replaceChildren(ui.run, runs.length ? runs.map(runOption) : el('option', { value: '', text: 'No trained model yet' }));
  ui.run.disabled = runs.length === 0;
  const pick = runs.find((r) => String(r.id) === String(wanted)) || runs.find((r) => r.active) || runs[0];
  if (pick) ui.run.value = String(pick.id);
  setTryReady(runs.some((r) => r.active));
}

function ensureOption(select, value) {
  if (!value) return;
  if (!Array.from(select.options).some((o) => o.value === value)) select.append(el('option', { value, text: value }));
  select.value = value;
}

function readQuery() {
  const params = new URLSearchParams(window.location.search);
  ensureOption(ui.label, params.get('label'));
  ensureOption(ui.trueLabel, params.get('true_label'));
  const split = params.get('unlabeled') === '1' ? 'unlabeled' : params.get('split') || 'unseen';
  ui.split.value = Array.from(ui.split.options).some((o) => o.value === split) ? split : 'unseen';
  const sort = params.get('sort');
  if (sort && Array.from(ui.sort.options).some((o) => o.value === sort)) ui.sort.value = sort;
  ui.wrong.checked = params.get('wrong') === '1';
  return params.get('run') || page.runId || '';
}

function showThreshold() {
  const value = Number(ui.threshold.value);
  ui.thresholdValue.textContent = value >= SHOW_ALL ? 'any (all shown)' : `${value}%`;
  ui.threshold.setAttribute('aria-valuetext', value >= SHOW_ALL ? 'all guesses shown' : `less sure than ${value} percent`);
}

/** The threshold filters the cards. A link that names photos (the confusion matrix: split, classes) shows
 * them all; otherwise the default depends on the number of classes. */
function setupThreshold() {
  const params = new URLSearchParams(window.location.search);
  const named = ['split', 'label', 'true_label', 'wrong', 'unlabeled'].some((k) => params.get(k));
  const asked = Number(params.get('below'));
  ui.threshold.min = String(Math.floor(100 / Math.max(2, state.classes.length) / 5) * 5);
  if (params.get('below') && asked >= 0 && asked <= 100) ui.threshold.value = String(asked);
  else ui.threshold.value = String(named ? SHOW_ALL : defaultThreshold(state.classes.length));
  showThreshold();
  ui.threshold.addEventListener('input', showThreshold);
  ui.threshold.addEventListener('change', () => load(true));
  // Sorting by the surest guesses asks to see them: the filter opens up.
  ui.sort.addEventListener('change', () => {
    if (['wrong_confident', '-confidence'].includes(ui.sort.value)) {
      ui.threshold.value = String(SHOW_ALL);
      showThreshold();
    }
  }, { capture: true });
}

// ---------- Try a photo ----------

function probabilityList(probabilities) {
  const entries = Object.entries(probabilities || {}).sort((a, b) => b[1] - a[1]);
  return el('ul', { class: 'prob-list', id: 'try-probabilities' }, entries.map(([name, p]) => {
    const fill = el('span');
    fill.style.width = `${Math.round(Number(p) * 100)}%`;
    const cls = state.classes.find((c) => c.name === name);
    const bar = el('div', { class: 'bar', 'aria-hidden': 'true' }, fill);
    if (cls) paintClass(bar, cls.color);
    return el('li', { dataset: { class: name } }, el('span', { text: name }), bar, el('span', { class: 'num', text: percent(p, 1) }));
  }));
}

let previewUrl = null;

function preview(file) {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(file);
  // The preview needs "img-src blob:" in the Content-Security-Policy; without it, it just stays hidden.
  const image = el('img', { id: 'try-preview', class: 'try-preview', alt: `The photo you picked: ${file.name}` });
  image.addEventListener('error', () => { image.hidden = true; });
  image.src = previewUrl;
  return image;
}

async function tryPhoto(file) {
  const result = $('try-result');
  const error = $('try-error');
  const image = preview(file);
  error.hidden = true;
  result.hidden = false;
  replaceChildren(result, image, el('p', { class: 'muted', text: `Asking the model about ${file.name}… (the first answer can take a while)` }));
  const form = new FormData();
  form.append('file', file, file.name);
  try {
    const data = await api('/api/v1/predict', { method: 'POST', body: form });
    replaceChildren(result, image,
      el('div', { class: 'try-result-head' }, el('span', { text: `${file.name}:` }), classChip(data.label, state.classes),
        el('span', { class: 'confidence', text: percent(data.confidence, 1) }),
        el('span', { class: 'muted small', text: data.run_id ? `(run #${data.run_id})` : '' })),
      probabilityList(data.probabilities));
  } catch (err) {
    result.hidden = true;
    error.hidden = false;
    error.textContent = `Could not predict ${file.name}: ${err.message}`;
  }
}

let tryReady = false;

/** Try-a-photo asks the active model: without one it stays disabled and says why. */
function setTryReady(ready) {
  tryReady = ready;
  $('try-photo').dataset.ready = String(ready);
  $('try-dropzone').setAttribute('aria-disabled', String(!ready));
  $('try-file-input').disabled = !ready;
  $('try-hint').textContent = ready
    ? 'Press Enter or tap to pick a photo. It is not stored.'
    : 'No trained model yet: train one first, then try photos here.';
}

function setupTry() {
  const zone = $('try-dropzone');
  const input = $('try-file-input');
  const open = () => { if (tryReady) input.click(); };
  zone.addEventListener('click', open);
  zone.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      open();
    }
  });
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('is-dragover');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('is-dragover'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('is-dragover');
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file && tryReady) tryPhoto(file);
  });
  input.addEventListener('change', () => {
    const file = input.files[0];
    input.value = '';
    if (file) tryPhoto(file);
  });
}

async function init() {
  const wanted = readQuery();
  setupTry();
  try {
    state.classes = await get('/api/v1/classes');
  } catch {
    state.classes = [];
  }
  setupThreshold();
  await loadRuns(wanted);
  await load(true);
}

$('gallery-filters').addEventListener('submit', (event) => event.preventDefault());
for (const control of [ui.run, ui.split, ui.label, ui.trueLabel, ui.sort, ui.wrong]) {
  control.addEventListener('change', () => load(true));
}
ui.more.addEventListener('click', () => {
  state.page += 1;
  load(false);
});
init();
