// Photos page: accept the sure suggestions in bulk (unlabeled photos only), undo that, the accept rate.

import { datasetChanged, get, post, toast, toastError } from './api.js';
import { rateText } from './suggest.js';

const $ = (id) => document.getElementById(id);
const ui = {
  bar: $('suggest-bar'), rate: $('suggest-rate-photos'), threshold: $('suggest-threshold'),
  accept: $('suggest-accept'), done: $('suggest-done'), doneText: $('suggest-done-text'), undo: $('suggest-undo'),
};
const state = { summary: null, lastAccept: null, busy: false };

function plural(n) {
  return `${n} photo${n === 1 ? '' : 's'}`;
}

function render() {
  const summary = state.summary;
  ui.bar.hidden = !summary || (summary.state.status !== 'ready' && !state.lastAccept);
  if (!summary) return;
  ui.rate.textContent = rateText(summary);
  const n = summary.acceptable[String(Number(ui.threshold.value))] ?? 0;
  ui.accept.textContent = n ? `Accept ${plural(n)}` : 'None that sure';
  ui.accept.disabled = state.busy || n === 0;
  ui.done.hidden = !state.lastAccept;
  ui.undo.disabled = state.busy;
}

async function refresh() {
  try {
    state.summary = await get('/api/v1/suggestions');
  } catch {
    state.summary = null;
  }
  render();
}

async function act(work) {
  state.busy = true;
  render();
  try {
    await work();
    datasetChanged();
    document.dispatchEvent(new CustomEvent('photos-changed'));
  } catch (err) {
    toastError(err, 'Nothing changed');
  } finally {
    state.busy = false;
  }
  await refresh();
}

function accept() {
  return act(async () => {
    const data = await post('/api/v1/suggestions/accept', { min_confidence: Number(ui.threshold.value) });
    state.lastAccept = data.items.length ? data.items : null;
    ui.doneText.textContent = `Labeled ${plural(data.accepted)} as their suggestions said.`;
  });
}

function undo() {
  const items = state.lastAccept;
  if (!items || !items.length) {
    state.lastAccept = null;
    render();
    return undefined;
  }
  return act(async () => {
    const data = await post('/api/v1/suggestions/undo', { items });
    state.lastAccept = null;
    const kept = items.length - data.undone;
    const note = kept ? ` (${plural(kept)} relabeled since then kept the new label)` : '';
    toast(`Undone: ${plural(data.undone)} unlabeled again${note}.`, 'success', 6000);
  });
}

ui.threshold.addEventListener('change', render);
ui.accept.addEventListener('click', accept);
ui.undo.addEventListener('click', undo);
document.addEventListener('dataset-changed', () => window.setTimeout(refresh, 1500));
refresh();
