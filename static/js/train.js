// Train page: dataset summary, the Train button with advanced settings, and the runs comparison table.

import { ApiError, del, get, getPage, post, toast, toastError } from './api.js';
import {
  confirmDialog, el, formatBytes, formatDate, formatDuration, isAdmin, paintClass, percent, replaceChildren,
} from './dom.js';
import { initWeights, renderWeights } from './weights.js';

const $ = (id) => document.getElementById(id);
const form = $('train-form');
const button = $('train-button');
const message = $('train-message');
const ACTIVE = ['queued', 'running'];
let pollTimer = null;
const RUNS_PER_PAGE = 50;
let runsPage = 1;
let backboneDefaults = {};
let edited = false; // settings typed before the defaults arrived are kept
export const BACKBONES = { vgg16: 'VGG16', mobilenet_v2: 'MobileNetV2' };

export const runUrl = (id) => `/runs/${id}`;

function num(value) {
  return el('td', { class: 'num', text: value ?? 0 });
}

function renderDataset(dataset) {
  const rows = dataset.classes.map((cls) => {
    const name = paintClass(el('span', { class: 'swatch', 'aria-hidden': 'true' }), cls.color);
    return el('tr', { dataset: { class: cls.name } },
      el('th', { scope: 'row' }, el('span', { class: 'field-inline' }, name, cls.name)),
      num(cls.train), num(cls.val), num(cls.test), num(cls.count));
  });
  const sum = (key) => dataset.classes.reduce((acc, cls) => acc + (cls[key] || 0), 0);
  rows.push(el('tr', {}, el('th', { scope: 'row', text: 'All labeled' }),
    num(sum('train')), num(sum('val')), num(sum('test')), num(sum('count'))));
  replaceChildren($('dataset-rows'), rows);
  const parts = [`${dataset.unlabeled || 0} unlabeled photo${dataset.unlabeled === 1 ? '' : 's'} (not used for training)`];
  if (dataset.trash) parts.push(`${dataset.trash} in the trash`);
  replaceChildren($('dataset-extra'), parts.join(' · '), '. ',
    dataset.unlabeled ? el('a', { href: '/label', text: 'Label them' }) : null);
  renderImbalance(dataset.imbalance || {});
  renderHeldOut(dataset.held_out_notes || []);
  renderBlocked(dataset);
}

/** Classes whose test (or validation) accuracy cannot be measured: near-duplicates keep one split. */
function renderHeldOut(notes) {
  const box = $('held-out-note');
  box.hidden = notes.length === 0;
  replaceChildren(box, notes.map((text) => el('p', { class: 'held-out', text: `⚠ ${text}.` })));
}

function renderImbalance(info) {
  const note = $('imbalance-note');
  note.hidden = !info.warning;
  replaceChildren(note, info.warning ? `⚠ ${info.message} A model trained on this tends to guess the big class.` : '');
}

/**
 * Train disabled, with the reasons and the next step, while the server would refuse it. aria-disabled, not
 * disabled: the button stays reachable by Tab and reads out why (aria-describedby).
 */
function renderBlocked(dataset) {
  const blocked = $('train-blocked');
  if (!blocked || !isAdmin()) return;
  const problems = dataset.train_problems || [];
  const refused = problems.length > 0;
  button.setAttribute('aria-disabled', String(refused));
  if (refused) button.setAttribute('aria-describedby', 'train-blocked');
  else button.removeAttribute('aria-describedby');
  blocked.hidden = !refused;
  const next = dataset.total
    ? el('a', { href: '/label', text: 'Label photos' })
    : el('a', { href: '/', text: 'Upload photos' });
  replaceChildren(blocked, el('strong', { text: 'Train is not possible yet. ' }),
    problems.map((text) => el('span', { class: 'train-problem', text: `${text}. ` })), next);
}

async function loadDataset() {
  try {
    renderDataset(await get('/api/v1/dataset'));
  } catch (err) {
    replaceChildren($('dataset-rows'), el('tr', {}, el('td', { colspan: 5, class: 'error-text', text: err.message })));
  }
}

function showMessage(kind, ...parts) {
  message.hidden = false;
  message.className = `banner banner-${kind}`;
  replaceChildren(message, ...parts);
}

function readParams() {
  const read = (id, parse) => parse($(id).value);
  const params = {
    epochs: read('epochs', (v) => parseInt(v, 10)),
    batch_size: read('batch-size', (v) => parseInt(v, 10)),
    learning_rate: read('learning-rate', Number),
    trainable_layers: read('trainable-layers', (v) => parseInt(v, 10)),
  };
  const bad = Object.entries(params).find(([, v]) => !Number.isFinite(v) || v < 0);
  if (bad) return { error: `Check the setting “${bad[0].replace('_', ' ')}”: it must be a positive number.` };
  return { params: { ...params, backbone: $('backbone').value } };
}

// Each backbone has its own defaults (GET /api/v1/runs/defaults): choosing one fills them in.
function showDefaults(name) {
  const d = backboneDefaults[name];
  if (!d) return;
  $('epochs').value = d.epochs;
  $('batch-size').value = d.batch_size;
  $('learning-rate').value = d.learning_rate;
  $('trainable-layers').value = d.trainable_layers;
  $('trainable-layers').max = d.max_trainable_layers;
  $('trainable-layers').title = `Allowed: ${d.trainable_layers_choices}`;
  $('defaults-text').textContent = `Defaults for ${BACKBONES[name]}: ${d.epochs} epochs, batch ${d.batch_size}, ` +
    `${d.optimizer === 'adam' ? 'Adam' : 'RMSprop'} at ${d.learning_rate}, the last ${d.trainable_layers} layers trainable.`;
}

async function loadDefaults() {
  try {
    const answer = await get('/api/v1/runs/defaults');
    backboneDefaults = answer.backbones;
    if (edited) return;
    $('backbone').value = answer.backbone;
    showDefaults(answer.backbone);
    renderWeights();
  } catch { /* the page's built-in VGG16 defaults stay */ }
}

async function startRun(event) {
  event.preventDefault();
  if (!isAdmin()) return; // the button is disabled for others, and the server would answer 403
  if (button.getAttribute('aria-disabled') === 'true') return; // the reason is on show under it
  const { params, error } = readParams();
  if (error) {
    $('advanced').open = true;
    showMessage('error', error);
    return;
  }
  button.disabled = true;
  showMessage('info', 'Starting…');
  try {
    const run = await post('/api/v1/runs', params);
    window.location.assign(runUrl(run.id));
  } catch (err) {
    button.disabled = false;
    if (err instanceof ApiError && err.status === 409 && err.data && err.data.run) {
      const run = err.data.run;
      showMessage('warning', 'A run is in progress: ', el('a', { href: runUrl(run.id), id: 'run-in-progress-link',
        text: `Run #${run.id} (${run.status})` }), '. Wait for it to finish or cancel it.');
    } else {
      showMessage('error', err.message);
    }
  }
}

function f1Text(metrics) {
  if (!metrics || !metrics.per_class) return '–';
  return Object.entries(metrics.per_class).map(([name, m]) => `${name} ${Number(m.f1).toFixed(2)}`).join(' · ');
}

function paramsText(p, backbone) {
  if (!p) return '–';
  return `${BACKBONES[backbone] || backbone} · ${p.epochs} ep · batch ${p.batch_size} · lr ${p.learning_rate} · ${p.trainable_layers} layers`;
}

function datasetText(d) {
  return d ? `${d.train ?? 0} / ${d.val ?? 0} / ${d.test ?? 0}` : '–';
}

/** A table cell that names its column (phones show the runs table as stacked cards: see app.css). */
function cell(label, props, ...children) {
  return el('td', { ...props, dataset: { label } }, ...children);
}

function statusCell(run) {
  const pill = el('span', { class: 'status-pill', dataset: { status: run.status }, text: run.status });
  const p = run.progress || {};
  const extra = run.status === 'running' && p.epochs ? ` epoch ${p.epoch || 0}/${p.epochs}` : '';
  return cell('Status', {}, pill, extra ? el('span', { class: 'muted small', text: extra }) : null);
}

function filesCell(run) {
  if (run.status !== 'succeeded') return cell('Files', { class: 'muted', text: '–' }); // never had any
  if (!run.has_model_files) return cell('Files', { class: 'muted', text: 'deleted' });
  const size = run.model_bytes ? formatBytes(run.model_bytes) : 'kept';
  if (!isAdmin()) return cell('Files', { class: 'small', text: size });
  const remove = el('button', { type: 'button', class: 'btn btn-small btn-danger delete-files-button',
    dataset: { runId: run.id }, text: 'Delete', 'aria-label': `Delete the model files of run ${run.id} (${size})` });
  remove.addEventListener('click', () => deleteFiles(run));
  return cell('Files', {}, el('div', { class: 'small', text: size }), remove);
}

function runRow(run) {
  const markers = [];
  if (run.active) markers.push(el('span', { class: 'badge badge-success', text: '★ active' }));
  if (run.pinned) markers.push(el('span', { class: 'badge badge-info', text: 'pinned' }));
  return el('tr', { class: 'run-row', dataset: { runId: run.id, status: run.status } },
    cell('Run', {}, el('a', { href: runUrl(run.id), text: `Run #${run.id}` }), ' ', markers,
      el('div', { class: 'muted small', text: formatDate(run.created_at) })),
    statusCell(run),
    cell('Accuracy', { class: 'num', text: run.metrics ? percent(run.metrics.accuracy, 1) : '–' }),
    cell('F1 per class', { class: 'wrap', text: f1Text(run.metrics) }),
    cell('Settings', { class: 'wrap backbone-cell', text: paramsText(run.params, run.backbone) }),
    cell('Photos train / val / test', { text: datasetText(run.dataset), title: 'train / validation / test' }),
    cell('Duration', { text: formatDuration(run.duration_seconds) }),
    filesCell(run));
}

async function deleteFiles(run) {
  const ok = await confirmDialog({ title: `Delete the model files of run #${run.id}?`, confirmText: 'Delete files',
    danger: true, message: 'Its scores stay for comparison, but it can no longer predict or be downloaded.' });
  if (!ok) return;
  try {
    await del(`/api/v1/runs/${run.id}/files`);
    toast(`Deleted the files of run #${run.id}`, 'success');
  } catch (err) {
    toastError(err, 'Files not deleted');
  }
  loadRuns();
  loadStorage();
}

function renderPager(total) {
  const pages = Math.max(1, Math.ceil(total / RUNS_PER_PAGE));
  $('runs-pager').hidden = pages <= 1;
  $('runs-newer').disabled = runsPage <= 1;
  $('runs-older').disabled = runsPage >= pages;
  $('runs-page-text').textContent = `Page ${runsPage} of ${pages} (${total} runs)`;
}

async function loadRuns() {
  window.clearTimeout(pollTimer);
  let page;
  try {
    page = await getPage('/api/v1/runs', { page: runsPage, per_page: RUNS_PER_PAGE });
  } catch (err) {
    toastError(err, 'Could not load runs');
    return;
  }
  if (!page.items.length && runsPage > 1) { // runs were removed meanwhile: show the last page there is
    runsPage = Math.max(1, Math.ceil(page.total / RUNS_PER_PAGE));
    return loadRuns();
  }
  const runs = page.items.sort((a, b) => b.id - a.id);
  replaceChildren($('runs-rows'), runs.map(runRow));
  $('runs-empty').hidden = runs.length > 0;
  $('runs-table').hidden = runs.length === 0;
  renderPager(page.total);
  if (runs.some((run) => ACTIVE.includes(run.status))) pollTimer = window.setTimeout(loadRuns, 3000);
}

function turnPage(delta) {
  runsPage = Math.max(1, runsPage + delta);
  loadRuns();
}

async function loadStorage() {
  try {
    const s = await get('/api/v1/storage');
    $('storage-summary').textContent =
      `Disk: models ${formatBytes(s.models_bytes)} · photos ${formatBytes(s.photos_bytes)} · feature cache ${formatBytes(s.features_bytes)}`;
  } catch {
    $('storage-summary').textContent = '';
  }
}

form.addEventListener('submit', startRun);
form.addEventListener('input', () => { edited = true; });
$('backbone').addEventListener('change', (event) => showDefaults(event.target.value));
initWeights($('backbone'));
loadDefaults();
$('runs-newer').addEventListener('click', () => turnPage(-1));
$('runs-older').addEventListener('click', () => turnPage(1));
loadDataset();
loadRuns();
loadStorage();
document.addEventListener('dataset-changed', loadDataset);
