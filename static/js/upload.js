// Upload page: drop zone + file picker, one XHR per file, 3 at a time, one row per file with its outcome.
// A large .zip is imported in the background: its row follows the import's progress, then lists its files.

import { datasetChanged, get, patch, uploadFile } from './api.js';
import { el, formatBytes, pageData, replaceChildren } from './dom.js';

const CONCURRENCY = 3;
const IMPORT_POLL_MS = 1000;
const page = pageData();
const dropzone = document.getElementById('dropzone');
const input = document.getElementById('file-input');
const cameraInput = document.getElementById('camera-input');
const cameraButton = document.getElementById('camera-button');
const libraryButton = document.getElementById('library-button');
const labelSelect = document.getElementById('upload-label');
const resultsCard = document.getElementById('upload-results');
const list = document.getElementById('upload-list');
const summary = document.getElementById('upload-summary');
const nextStep = document.getElementById('upload-next');
const details = document.getElementById('upload-details');
const problems = document.getElementById('upload-problems');
const rejectedList = document.getElementById('upload-rejected');

const queue = [];
const counts = { stored: 0, duplicate: 0, rejected: 0, error: 0 };
let active = 0;
let total = 0;
let finished = 0;
let importing = 0;

function photoLink(id) {
  return el('a', { href: `${page.labelUrl || '/label'}?photo=${id}`, text: `photo #${id}` });
}

/** A per-file note under the outcome (e.g. "near-duplicate of #N"), empty and hidden until one is set. */
function noteField() {
  return el('p', { class: 'upload-note small muted', hidden: true });
}

/** Set a row's note; an empty text hides it again. */
export function setNote(row, text) {
  const note = row.querySelector(':scope > .upload-note');
  note.textContent = text || '';
  note.hidden = !text;
}

function listRejected(name, reason) {
  problems.hidden = false;
  rejectedList.append(el('li', { dataset: { filename: name } },
    el('span', { class: 'upload-name', text: name }), el('span', { text: `: ${reason}` })));
}

function createRow(file) {
  const fill = el('span');
  const bar = el('div', {
    class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0,
    'aria-label': `Upload progress of ${file.name}`,
  }, fill);
  const row = el('li', { class: 'upload-row', dataset: { status: 'queued', filename: file.name } },
    el('span', { class: 'upload-name', text: file.name, title: file.name }),
    el('span', { class: 'upload-size', text: formatBytes(file.size) }),
    bar,
    el('p', { class: 'upload-outcome', text: 'Waiting…' }),
    noteField());
  list.append(row);
  return row;
}

function setProgress(row, fraction) {
  const value = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
  const bar = row.querySelector(':scope > .bar');
  bar.setAttribute('aria-valuenow', value);
  bar.firstElementChild.style.width = `${value}%`;
}

function setOutcome(row, status, ...parts) {
  row.dataset.status = status;
  replaceChildren(row.querySelector(':scope > .upload-outcome'), ...parts);
}

// The server applies the "label" form field; this PATCH only covers a server that ignored it.
async function applyLabel(row, photo, label) {
  if (photo && photo.label) row.querySelector(':scope > .upload-outcome').append(` · labeled “${photo.label}”`);
  if (!label || !photo || photo.label) return;
  try {
    await patch(`/api/v1/photos/${photo.id}`, { label });
    row.querySelector(':scope > .upload-outcome').append(` · labeled “${label}”`);
  } catch (err) {
    row.querySelector(':scope > .upload-outcome').append(
      el('span', { class: 'error-text', text: ` · label “${label}” NOT saved: ${err.message}` }));
  }
}

async function showResult(row, result, label) {
  const status = result.status;
  counts[status] = (counts[status] || 0) + 1;
  if (status === 'stored') {
    setOutcome(row, 'stored', 'Stored', result.photo ? [' as ', photoLink(result.photo.id)] : []);
    if (result.near_duplicate_of) {  // stored, but it joined that photo's group (and so its split)
      row.querySelector(':scope > .upload-outcome').append(
        el('span', { class: 'upload-note' }, ' · near-duplicate of ', photoLink(result.near_duplicate_of)));
    }
    await applyLabel(row, result.photo, label);
  } else if (status === 'duplicate') {
    const id = result.duplicate_of ?? (result.photo ? result.photo.id : null);
    setOutcome(row, 'duplicate', 'Duplicate of ', id !== null ? photoLink(id) : 'an existing photo',
      ' (not stored again)');
  } else {
    setOutcome(row, 'rejected', `Rejected: ${result.error || 'not a supported image'}`);
    listRejected(result.filename || row.dataset.filename, result.error || 'not a supported image');
  }
}

function childRow(result) {
  const row = el('li', { class: 'upload-row', dataset: { status: 'queued', filename: result.filename || '' } },
    el('span', { class: 'upload-name', text: result.filename || '(entry)', title: result.filename || '' }),
    el('span', { class: 'upload-size', text: '' }),
    el('p', { class: 'upload-outcome' }),
    noteField());
  return row;
}

async function showArchive(row, results, label) {
  row.dataset.status = 'archive';
  const children = el('ul', { class: 'upload-children', 'aria-label': 'Files in the archive' });
  row.append(children);
  for (const result of results) {
    const child = childRow(result);
    children.append(child);
    await showResult(child, result, label);
  }
  const stored = results.filter((r) => r.status === 'stored').length;
  replaceChildren(row.querySelector(':scope > .upload-outcome'),
    `Archive: ${results.length} file${results.length === 1 ? '' : 's'}, ${stored} stored`);
}

function isArchive(file, results) {
  return results.length !== 1 || /\.zip$/i.test(file.name);
}

/** An import job's per-file result in the shape of an upload result (the label was applied by the server). */
function importResult(result) {
  return { ...result, photo: result.photo_id ? { id: result.photo_id } : null };
}

function importProgressText(job) {
  const { done, total: count } = job.progress || {};
  if (job.status === 'queued') return 'Zip received; waiting for the background worker to import it…';
  const counts = job.counts || {};
  return `Importing: ${done || 0} of ${count || '?'} files · ${counts.stored || 0} stored, `
    + `${counts.duplicate || 0} duplicates, ${counts.rejected || 0} rejected`;
}

/** Follow a background import until it ends, then list its files; does not hold an upload slot. */
async function followImport(row, job) {
  importing += 1;
  row.dataset.status = 'importing';
  let current = job;
  let failures = 0;
  while (current.status === 'queued' || current.status === 'running') {
    setOutcome(row, 'importing', importProgressText(current));
    const { done, total: count } = current.progress || {};
    setProgress(row, count ? done / count : 0);
    await new Promise((resolve) => { setTimeout(resolve, IMPORT_POLL_MS * Math.min(10, 1 + failures)); });
    try {
      current = await get(current.url || job.url);
      failures = 0;
    } catch (err) {
      failures += 1;
      setOutcome(row, 'importing', `${importProgressText(current)} (${err.message}; still trying)`);
    }
  }
  setProgress(row, 1);
  await showArchive(row, (current.results || []).map(importResult), '');
  if (current.status === 'failed') {
    row.dataset.status = 'error';
    row.querySelector(':scope > .upload-outcome').append(
      el('span', { class: 'error-text', text: ` · Import failed: ${current.error || 'unknown error'}` }));
  }
  importing -= 1;
  updateSummary();
  datasetChanged();
}

async function runJob({ file, row }) {
  setOutcome(row, 'uploading', 'Uploading…');
  const label = labelSelect ? labelSelect.value : '';
  try {
    const data = await uploadFile(file, { fields: { label }, onProgress: (fraction) => setProgress(row, fraction) });
    setProgress(row, 1);
    const results = (data && data.results) || [];
    if (data && data.import) followImport(row, data.import);
    else if (isArchive(file, results)) await showArchive(row, results, label);
    else if (results.length) await showResult(row, results[0], label);
    else setOutcome(row, 'rejected', 'Rejected: the server returned no result for this file');
  } catch (err) {
    setProgress(row, 1);
    failRow(row, file, err);
  }
}

function failRow(row, file, err) {
  if (err.status >= 400 && err.status < 500) {
    counts.rejected += 1;
    setOutcome(row, 'rejected', `Rejected: ${err.message}`);
    listRejected(file.name, err.message);
    return;
  }
  counts.error += 1;
  const retry = el('button', { type: 'button', class: 'btn btn-small retry-button', text: 'Retry' });
  retry.addEventListener('click', () => {
    counts.error -= 1;
    finished -= 1;
    setProgress(row, 0);
    enqueue(file, row);
  });
  setOutcome(row, 'error', `Upload failed: ${err.message} `, retry);
  details.open = true; // its Retry button is in the row
}

function updateSummary() {
  const parts = [`${finished} of ${total} done`];
  if (counts.stored) parts.push(`${counts.stored} stored`);
  if (counts.duplicate) parts.push(`${counts.duplicate} duplicate${counts.duplicate === 1 ? '' : 's'}`);
  if (counts.rejected) parts.push(`${counts.rejected} rejected`);
  if (counts.error) parts.push(`${counts.error} failed`);
  if (importing) parts.push(`${importing} zip${importing === 1 ? '' : 's'} importing in the background`);
  summary.textContent = parts.join(' · ');
  countRows();
  const done = finished === total && !importing;
  if (!done || counts.stored === 0) nextStep.hidden = true;
  else showNextStep();
}

/** Label when photos wait for a label, Train when everything is labeled (e.g. uploaded as "beer"). */
async function showNextStep() {
  let unlabeled = 1;
  try {
    unlabeled = (await get('/api/v1/dataset')).unlabeled || 0;
  } catch { /* offer labeling, the step that is never wrong */ }
  if (finished !== total || importing) return; // more files came meanwhile
  const label = document.getElementById('go-label');
  const train = document.getElementById('go-train');
  label.hidden = unlabeled === 0;
  train.hidden = unlabeled > 0;
  const stored = `${counts.stored} photo${counts.stored === 1 ? '' : 's'} stored`;
  document.getElementById('upload-next-text').textContent = unlabeled
    ? `${stored}. Next: label them (${unlabeled} photo${unlabeled === 1 ? '' : 's'} without a label).`
    : `${stored}, and every photo has a label. Next: train a model.`;
  nextStep.hidden = false;
}

function pump() {
  while (active < CONCURRENCY && queue.length) {
    const job = queue.shift();
    active += 1;
    runJob(job).finally(() => {
      active -= 1;
      finished += 1;
      updateSummary();
      if (job.row.dataset.status !== 'error') datasetChanged();
      pump();
    });
  }
}

function enqueue(file, row) {
  queue.push({ file, row: row || createRow(file) });
  pump();
}

function addFiles(files) {
  const items = Array.from(files || []);
  if (!items.length) return;
  resultsCard.hidden = false;
  total += items.length;
  for (const file of items) enqueue(file);
  updateSummary();
  revealResults();
}

/** On a phone the results card sits below the fold: bring it up so the person sees the uploads start. */
function revealResults() {
  const box = summary.getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) resultsCard.scrollIntoView({ block: 'start' });
}

function clearFinished() {
  for (const row of list.querySelectorAll(':scope > .upload-row')) {
    if (!['queued', 'uploading', 'importing', 'error'].includes(row.dataset.status)) row.remove();
  }
  replaceChildren(rejectedList);
  problems.hidden = true;
  countRows();
}

function countRows() {
  document.getElementById('upload-file-count').textContent = String(list.querySelectorAll(':scope > .upload-row').length);
}

function bindDropzone() {
  const open = () => input.click();
  dropzone.addEventListener('click', open);
  dropzone.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      open();
    }
  });
  dropzone.addEventListener('dragover', (event) => {
    event.preventDefault();
    dropzone.classList.add('is-dragover');
  });
  dropzone.addEventListener('dragleave', () => dropzone.classList.remove('is-dragover'));
  dropzone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropzone.classList.remove('is-dragover');
    addFiles(event.dataTransfer ? event.dataTransfer.files : []);
  });
  // A drop just outside the zone must not navigate away from the page.
  window.addEventListener('dragover', (event) => event.preventDefault());
  window.addEventListener('drop', (event) => event.preventDefault());
}

bindDropzone();
for (const picker of [input, cameraInput]) {
  picker.addEventListener('change', () => {
    addFiles(picker.files);
    picker.value = '';
  });
}
cameraButton.addEventListener('click', () => cameraInput.click());
libraryButton.addEventListener('click', () => input.click());
document.getElementById('clear-finished').addEventListener('click', clearFinished);
