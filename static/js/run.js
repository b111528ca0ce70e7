// Run page: live progress (polled about once a second), learning curves, and the results of a finished run.

import { ApiError, get, post, toast, toastError } from './api.js';
import { lineChart, TRAIN_COLOR, VAL_COLOR } from './chart.js';
import { el, formatDate, formatDuration, pageData, percent, replaceChildren } from './dom.js';

const page = pageData();
const runId = Number(page.runId);
const $ = (id) => document.getElementById(id);
const ACTIVE = ['queued', 'running'];
const state = { run: null, historyKey: '', resultsFor: null, timer: null, errors: 0 };

function humanStage(stage, status) {
  if (status === 'queued') return 'Waiting for the worker to pick up the run';
  if (!stage) return status === 'running' ? 'Starting' : '–';
  const text = String(stage).replace(/[_-]+/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function setProgress(id, textId, value, max, text) {
  const bar = $(id);
  bar.max = Math.max(1, Number(max) || 1);
  bar.value = Math.min(bar.max, Math.max(0, Number(value) || 0));
  $(textId).textContent = text;
}

function renderProgress(run) {
  const p = run.progress || {};
  $('run-progress').hidden = !ACTIVE.includes(run.status);
  $('run-stage').textContent = humanStage(p.stage, run.status);
  $('run-eta').textContent = Number.isFinite(p.eta_seconds) && p.eta_seconds > 0
    ? ` · about ${formatDuration(p.eta_seconds)} left` : '';
  const features = Number(p.features_total) > 0;
  $('features-block').hidden = !features;
  if (features) {
    setProgress('progress-features', 'features-text', p.features_done, p.features_total,
      `${p.features_done || 0} / ${p.features_total} photos`);
  }
  setProgress('progress-epoch', 'epoch-text', p.epoch, p.epochs || run.params?.epochs,
    `Epoch ${p.epoch || 0} of ${p.epochs || run.params?.epochs || '?'}`);
  setProgress('progress-batch', 'batch-text', p.batch, p.batches,
    p.batches ? `Batch ${p.batch || 0} of ${p.batches}` : '–');
}

function renderHistory(history) {
  const key = JSON.stringify(history);
  if (key === state.historyKey) return;
  state.historyKey = key;
  const pick = (name) => history.map((h) => (h[name] === null || h[name] === undefined ? NaN : Number(h[name])));
  const chart = $('run-chart');
  if (!history.length) {
    replaceChildren(chart, el('p', { class: 'muted', id: 'chart-empty', text: 'The curves appear after the first epoch.' }));
  } else {
    const full = chart.clientWidth || 480;
    const width = full >= 680 ? (full - 16) / 2 : full;
    replaceChildren(chart,
      lineChart({ id: 'chart-loss', title: 'Loss (lower is better)', width, series: [
        { name: 'train', values: pick('loss'), color: TRAIN_COLOR },
        { name: 'validation', values: pick('val_loss'), color: VAL_COLOR, dashed: true }] }),
      lineChart({ id: 'chart-accuracy', title: 'Accuracy (higher is better)', yMax: 1, width, format: (v) => percent(v), series: [
        { name: 'train', values: pick('accuracy'), color: TRAIN_COLOR },
        { name: 'validation', values: pick('val_accuracy'), color: VAL_COLOR, dashed: true }] }));
  }
  const fixed = (v) => (v === null || v === undefined ? '–' : Number(v).toFixed(4));
  replaceChildren($('history-table').tBodies[0], history.map((h) => el('tr', {},
    el('td', { text: h.epoch }), el('td', { class: 'num', text: fixed(h.loss) }), el('td', { class: 'num', text: percent(h.accuracy, 1) }),
    el('td', { class: 'num', text: fixed(h.val_loss) }), el('td', { class: 'num', text: percent(h.val_accuracy, 1) }))));
}

function renderHeader(run) {
  const status = $('run-status');
  status.textContent = run.status;
  status.dataset.status = run.status;
  const times = [`Created ${formatDate(run.created_at)}`];
  if (run.started_at) times.push(`started ${formatDate(run.started_at)}`);
  if (run.finished_at) times.push(`finished ${formatDate(run.finished_at)}`);
  replaceChildren($('run-times'), times.join(' · '), run.active ? [' ', el('span', { class: 'badge badge-success', id: 'active-marker', text: '★ active model' })] : null);
  $('cancel-button').hidden = !ACTIVE.includes(run.status);
  const done = run.status === 'succeeded';
  // The active run is already the model that predicts: only a pinned one offers to unpin.
  $('pin-button').hidden = !done || (run.active && !run.pinned);
  $('pin-button').setAttribute('aria-pressed', String(Boolean(run.pinned)));
  $('pin-button').textContent = run.pinned ? 'Pinned (unpin)' : 'Pin as active model';
  $('gallery-link').hidden = !done;
  const warnings = run.warnings || [];
  $('run-warnings').hidden = !warnings.length;
  replaceChildren($('run-warnings'), warnings.map((w) => el('p', { text: `⚠ ${w}` })));
}

// A failed run: one plain sentence, the full error folded, and the action that fixes its cause.
function renderFailure(run) {
  const failed = run.status === 'failed' || run.status === 'cancelled';
  $('run-failed').hidden = !failed;
  if (!failed) return;
  const failure = run.failure || { summary: 'The run failed.', fix: 'train_again' };
  $('failed-heading').textContent = run.status === 'cancelled' ? 'The run was cancelled' : 'The run failed';
  $('run-error-summary').textContent = failure.summary;
  $('run-error').textContent = run.error || 'No error text was recorded.';
  $('run-error-details').hidden = !run.error || run.status === 'cancelled';
  $('fix-weights-link').hidden = failure.fix !== 'upload_weights';
  const again = $('train-again-button');
  again.hidden = !['train_again', 'free_disk'].includes(failure.fix);
  again.classList.toggle('btn-primary', failure.fix === 'train_again');
}

function param(label, value) {
  return [el('dt', { text: label }), el('dd', { text: value ?? '–' })];
}

function renderParams(run) {
  const p = run.params || {};
  const d = run.dataset || {};
  const perClass = Object.entries(d.per_class || {}).map(([name, c]) => `${name}: ${c.train ?? 0}/${c.val ?? 0}/${c.test ?? 0}`);
  replaceChildren($('run-params'),
    param('Backbone', { vgg16: 'VGG16', mobilenet_v2: 'MobileNetV2' }[run.backbone] || run.backbone),
    param('Epochs', p.epochs), param('Batch size', p.batch_size), param('Learning rate', p.learning_rate),
    param('Trainable layers', p.trainable_layers), param('Backbone weights', run.weights),
    param('Photos train / val / test', `${d.train ?? 0} / ${d.val ?? 0} / ${d.test ?? 0}`),
    perClass.length ? param('Per class', perClass.join(' · ')) : null,
    param('Duration', formatDuration(run.duration_seconds)));
}

function galleryHref(query) {
  return `${page.galleryUrl || '/gallery'}?${new URLSearchParams({ run: runId, ...query })}`;
}

function renderPerClass(metrics) {
  const labels = metrics.labels || Object.keys(metrics.per_class || {});
  const fixed = (v) => (v === null || v === undefined ? '–' : Number(v).toFixed(2));
  replaceChildren($('per-class-table').tBodies[0], labels.map((name) => {
    const m = (metrics.per_class || {})[name] || {};
    // No test photo of the class (its photos are one near-duplicate group, say): its recall is unknown, not 0.
    const untested = m.support === 0;
    const unknown = untested ? { text: '–', title: 'No test photos of this class' } : {};
    return el('tr', { dataset: { class: name } }, el('th', { scope: 'row', text: name }),
      el('td', { class: 'num', text: fixed(m.precision) }),
      el('td', { class: 'num', text: fixed(m.recall), ...unknown }),
      el('td', { class: 'num', text: fixed(m.f1), ...unknown }),
      el('td', { class: 'num', text: untested ? '0 (no test photos)' : m.support ?? '–' }));
  }));
}

function confusionCell(value, rowSum, trueLabel, predLabel) {
  const diagonal = trueLabel === predLabel;
  const cell = el('td', { class: `cell ${diagonal ? 'is-diagonal' : value ? 'is-off' : ''}`, dataset: { true: trueLabel, pred: predLabel } },
    el('a', { href: galleryHref({ split: 'test', true_label: trueLabel, label: predLabel }),
      'aria-label': `${value} test photo${value === 1 ? '' : 's'} of ${trueLabel} predicted as ${predLabel}`, text: value }));
  const alpha = rowSum ? 0.06 + (0.3 * value) / rowSum : 0;
  if (value) cell.style.backgroundColor = diagonal ? `rgba(23, 112, 58, ${alpha})` : `rgba(179, 38, 30, ${alpha})`;
  return cell;
}

function renderConfusion(metrics) {
  const labels = metrics.labels || [];
  const matrix = metrics.confusion_matrix || [];
  const head = el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'true ↓ / predicted →' }),
    labels.map((name) => el('th', { scope: 'col', class: 'num', text: name }))));
  const body = el('tbody', {}, labels.map((trueLabel, i) => {
    const row = matrix[i] || [];
    const sum = row.reduce((a, b) => a + Number(b || 0), 0);
    return el('tr', {}, el('th', { scope: 'row', text: trueLabel }),
      labels.map((predLabel, j) => confusionCell(Number(row[j] || 0), sum, trueLabel, predLabel)));
  }));
  replaceChildren($('confusion-matrix'), head, body);
}

function renderResults(run) {
  const done = run.status === 'succeeded' && run.metrics;
  $('run-results').hidden = !done;
  $('downloads').hidden = run.status !== 'succeeded';
  $('download-links').hidden = !run.has_model_files;
  $('files-deleted').hidden = Boolean(run.has_model_files);
  renderTflite(run);
  if (!done) return;
  const m = run.metrics;
  $('test-accuracy').textContent = percent(m.accuracy, 1);
  const supports = Object.values(m.per_class || {}).reduce((a, c) => a + (Number(c.support) || 0), 0);
  $('test-count').textContent = supports || run.dataset?.test || '–';
  $('run-duration').textContent = formatDuration(run.duration_seconds);
  renderPerClass(m);
  renderConfusion(m);
  $('curves-download').hidden = !run.curves_url;
  if (run.curves_url) $('curves-download-link').href = run.curves_url;
}

const TFLITE_WORDS = {
  none: '',
  converting: 'Making the TFLite file (a minute or two)…',
  ready: '',
};

/** The TFLite file is made by the worker on request: a button, then its progress, then the download. */
function renderTflite(run) {
  const tflite = run.tflite || { state: 'none' };
  const files = Boolean(run.has_model_files);
  $('download-tflite').hidden = !files || tflite.state !== 'ready';
  $('download-tflite-int8').hidden = !files || tflite.state !== 'ready' || !tflite.quantised_url;
  $('tflite-button').hidden = !files || !['none', 'failed'].includes(tflite.state);
  $('tflite-button').textContent = tflite.state === 'failed' ? 'Try the TFLite file again' : 'Make the TFLite file';
  const words = tflite.state === 'failed' ? `The TFLite conversion failed: ${tflite.error || 'no reason was given'}` : TFLITE_WORDS[tflite.state] || '';
  $('tflite-status').hidden = !files || !words;
  $('tflite-status').textContent = words;
  $('tflite-status').classList.toggle('error-text', tflite.state === 'failed');
}

async function makeTflite() {
  $('tflite-button').disabled = true;
  try {
    render(await post(`/api/v1/runs/${runId}/tflite`, {}));
  } catch (err) {
    toastError(err, 'Could not make the TFLite file');
  }
  $('tflite-button').disabled = false;
  poll();
}

function stillChanging(run) {
  return ACTIVE.includes(run.status) || (run.tflite && run.tflite.state === 'converting');
}

function render(run) {
  state.run = run;
  document.title = `Run #${run.id} (${run.status}) · Photo Trainer`;
  renderHeader(run);
  renderProgress(run);
  const history = (run.progress && run.progress.history) || [];
  // A run that ended before its first epoch has no curves to wait for.
  $('run-curves').hidden = !history.length && !ACTIVE.includes(run.status);
  renderHistory(history);
  renderFailure(run);
  renderParams(run);
  renderResults(run);
}

async function poll() {
  window.clearTimeout(state.timer);
  try {
    render(await get(`/api/v1/runs/${runId}`));
    state.errors = 0;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      $('run-status').textContent = 'not found';
      toast(`Run #${runId} does not exist.`, 'error');
      return;
    }
    state.errors += 1;
    if (state.errors === 1 || state.errors % 10 === 0) toastError(err, 'Could not refresh the run');
  }
  if (!state.run || stillChanging(state.run)) {
    state.timer = window.setTimeout(poll, document.hidden || state.errors ? 3000 : 1000);
  }
}

async function cancelRun() {
  $('cancel-button').disabled = true;
  try {
    await post(`/api/v1/runs/${runId}/cancel`, {});
    toast('Cancelling…', 'info');
  } catch (err) {
    toastError(err, 'Could not cancel');
  }
  $('cancel-button').disabled = false;
  poll();
}

async function togglePin() {
  const pinned = !(state.run && state.run.pinned);
  try {
    await post(`/api/v1/runs/${runId}/pin`, { pinned });
    toast(pinned ? 'Pinned: this model makes the predictions' : 'Unpinned', 'success');
  } catch (err) {
    toastError(err, 'Not changed');
  }
  poll();
}

async function trainAgain() {
  const button = $('train-again-button');
  button.disabled = true;
  try {
    const run = await post('/api/v1/runs', (state.run && state.run.params) || {});
    window.location.assign(`/runs/${run.id}`);
  } catch (err) {
    button.disabled = false;
    if (err instanceof ApiError && err.status === 409 && err.data && err.data.run) {
      window.location.assign(`/runs/${err.data.run.id}`);
      return;
    }
    toastError(err, 'Could not start');
  }
}

$('cancel-button').addEventListener('click', cancelRun);
$('tflite-button').addEventListener('click', makeTflite);
$('pin-button').addEventListener('click', togglePin);
$('train-again-button').addEventListener('click', trainAgain);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && state.run && stillChanging(state.run)) poll();
});
poll();
