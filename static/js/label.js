// Label page: one photo at a time, number keys label and advance, arrows move, 0/u unlabel, z undo, Enter accepts.

import { datasetChanged, get, patch, toast } from './api.js';
import {
  classChip, classKeys, el, isTypingTarget, pageData, paintClass, percent, replaceChildren, setQueryString,
} from './dom.js';

const page = pageData();
const $ = (id) => document.getElementById(id);
const ui = {
  filter: $('label-filter'), order: $('label-order'), image: $('label-image'), empty: $('label-empty'),
  position: $('label-position'), current: $('label-current'), split: $('label-split'), filename: $('label-filename'),
  buttons: $('class-buttons'), prediction: $('prediction'), predLabel: $('prediction-label'),
  predConfidence: $('prediction-confidence'), accept: $('accept-button'), status: $('save-status'),
  prev: $('prev-button'), next: $('next-button'), unlabel: $('unlabel-button'), undo: $('undo-button'),
  done: $('label-done'), doneText: $('label-done-text'), restart: $('restart-button'),
};

const state = { ids: [], index: 0, classes: [], keys: [], undo: [], saving: false, labeled: 0, token: 0 };
const cache = new Map();

function filterQuery() {
  const value = ui.filter.value;
  const query = { order: ui.order.value };
  if (value === 'unlabeled') query.unlabeled = 1;
  else if (value.startsWith('label:')) query.label = value.slice(6);
  else if (value.startsWith('split:')) query.split = value.slice(6);
  return query;
}

function currentPhoto() {
  return cache.get(state.ids[state.index]) || null;
}

function setStatus(text, kind = '') {
  ui.status.textContent = text;
  ui.status.className = `save-status ${kind ? `is-${kind}` : ''}`;
}

function renderClassButtons() {
  state.keys = classKeys(state.classes);
  const buttons = state.classes.map((cls, i) => {
    const key = state.keys[i];
    const button = el('button', {
      type: 'button', class: 'class-button', dataset: { class: cls.name }, 'aria-pressed': 'false',
      'aria-keyshortcuts': key || null, title: key ? `Label as ${cls.name} (key ${key})` : `Label as ${cls.name}`,
    }, el('span', { class: 'key', 'aria-hidden': 'true', text: key || '·' }), el('span', { class: 'name', text: cls.name }));
    paintClass(button, cls.color);
    button.addEventListener('click', () => setLabel(cls.name, true));
    return button;
  });
  if (!buttons.length) {
    buttons.push(el('p', {}, 'No classes yet. ', el('a', { href: '/classes', text: 'Add classes first' }), '.'));
  }
  replaceChildren(ui.buttons, buttons);
}

async function loadPhoto(id) {
  if (!cache.has(id)) cache.set(id, await get(`/api/v1/photos/${id}`));
  return cache.get(id);
}

function prefetch(index) {
  const id = state.ids[index];
  if (id === undefined) return;
  loadPhoto(id).then((photo) => {
    const img = new Image();
    img.src = photo.display_url;
  }).catch(() => {});
}

function showMessage(text, ...extra) {
  ui.image.hidden = true;
  ui.image.removeAttribute('src');
  ui.empty.hidden = false;
  replaceChildren(ui.empty, text, ...extra);
}

function renderEmpty() {
  const unlabeled = ui.filter.value === 'unlabeled';
  const link = (href, text) => el('a', { href, text, class: 'btn btn-small' });
  showMessage(unlabeled ? 'No unlabeled photos left. ' : 'No photos match this filter. ',
    el('div', { class: 'row' }, link(page.uploadUrl || '/', 'Upload photos'), link(page.trainUrl || '/train', 'Train')));
  ui.position.textContent = '0 / 0';
  replaceChildren(ui.current);
  ui.split.hidden = true;
  ui.filename.textContent = '';
  ui.prediction.hidden = true;
}

function renderDone() {
  ui.done.hidden = false;
  ui.doneText.textContent = ` ${state.labeled} photo${state.labeled === 1 ? '' : 's'} labeled in this session.`;
  showMessage('End of the list.');
  ui.position.textContent = `${state.ids.length} / ${state.ids.length}`;
  ui.prediction.hidden = true;
}

function renderLabel(photo) {
  replaceChildren(ui.current, photo.label ? classChip(photo.label, state.classes)
    : el('span', { class: 'chip chip-outline', text: 'Unlabeled' }));
  ui.split.hidden = !photo.split;
  ui.split.textContent = photo.split ? `split: ${photo.split}` : '';
  for (const button of ui.buttons.querySelectorAll('.class-button')) {
    button.setAttribute('aria-pressed', String(button.dataset.class === photo.label));
  }
}

function renderPrediction(photo) {
  const pred = photo.prediction;
  ui.prediction.hidden = !pred;
  if (!pred) return;
  replaceChildren(ui.predLabel, classChip(pred.label, state.classes));
  ui.predConfidence.textContent = percent(pred.confidence);
  ui.accept.textContent = `Accept “${pred.label}” (Enter)`;
  ui.accept.dataset.class = pred.label;
}

function renderPhoto(photo) {
  ui.done.hidden = true;
  ui.empty.hidden = true;
  ui.image.hidden = false;
  ui.image.src = photo.display_url;
  ui.image.alt = `Photo ${photo.filename}`;
  ui.image.dataset.photoId = photo.id;
  ui.position.textContent = `${state.index + 1} / ${state.ids.length}`;
  ui.filename.textContent = `#${photo.id} · ${photo.filename}`;
  renderLabel(photo);
  renderPrediction(photo);
  ui.prev.disabled = state.index === 0;
  setQueryString({ filter: ui.filter.value, order: ui.order.value, photo: photo.id });
}

async function show() {
  const token = ++state.token;
  if (!state.ids.length) return renderEmpty();
  if (state.index >= state.ids.length) return renderDone();
  try {
    const photo = await loadPhoto(state.ids[state.index]);
    if (token !== state.token) return;
    renderPhoto(photo);
    prefetch(state.index + 1);
  } catch (err) {
    if (token !== state.token) return;
    showMessage(`Could not load photo #${state.ids[state.index]}: ${err.message}`);
  }
}

function move(delta, keepStatus = false) {
  const next = Math.min(state.ids.length, Math.max(0, state.index + delta));
  if (next === state.index) return;
  state.index = next;
  if (!keepStatus) setStatus('');
  show();
}

async function saveLabel(photo, label) {
  const updated = await patch(`/api/v1/photos/${photo.id}`, { label });
  cache.set(photo.id, { ...photo, ...(updated && updated.id ? updated : { label }) });
  datasetChanged();
}

/** Label the current photo (null: unlabel); on success optionally advance, on failure stay and say so. */
async function setLabel(label, advance) {
  const photo = currentPhoto();
  if (!photo || state.saving || ui.image.hidden) return;
  if (photo.label === label) {
    setStatus(label ? `#${photo.id} is already “${label}”` : `#${photo.id} is already unlabeled`, 'ok');
    if (advance) move(1, true);
    return;
  }
  state.saving = true;
  setStatus('Saving…');
  try {
    await saveLabel(photo, label);
    state.undo.push({ id: photo.id, previous: photo.label ?? null });
    ui.undo.disabled = false;
    if (label) state.labeled += 1;
    setStatus(label ? `Saved: #${photo.id} is “${label}”` : `Saved: #${photo.id} is unlabeled`, 'ok');
    toast('Saved', 'success', 1200);
    if (advance) move(1, true);
    else renderLabel(cache.get(photo.id));
  } catch (err) {
    setStatus(`Not saved: ${err.message}. Photo #${photo.id} keeps its previous label; try again.`, 'error');
    toast(`Label not saved: ${err.message}`, 'error');
  } finally {
    state.saving = false;
  }
}

async function undo() {
  const entry = state.undo.pop();
  if (!entry || state.saving) {
    if (entry) state.undo.push(entry);
    return;
  }
  state.saving = true;
  try {
    const photo = cache.get(entry.id) || (await loadPhoto(entry.id));
    await saveLabel(photo, entry.previous);
    const index = state.ids.indexOf(entry.id);
    if (index >= 0) state.index = index;
    setStatus(`Undone: #${entry.id} is ${entry.previous ? `“${entry.previous}”` : 'unlabeled'} again`, 'ok');
    toast('Undone', 'success', 1200);
    state.saving = false;
    await show();
  } catch (err) {
    state.undo.push(entry);
    setStatus(`Undo failed: ${err.message}`, 'error');
    toast(`Undo failed: ${err.message}`, 'error');
  } finally {
    state.saving = false;
    ui.undo.disabled = state.undo.length === 0;
  }
}

function acceptPrediction() {
  const photo = currentPhoto();
  if (photo && photo.prediction && !ui.image.hidden) setLabel(photo.prediction.label, true);
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (isTypingTarget(event.target) || document.querySelector('dialog[open]')) return;
  const key = event.key;
  const classIndex = /^[1-9]$/.test(key) ? state.keys.indexOf(key) : -1;
  if (classIndex >= 0) setLabel(state.classes[classIndex].name, true);
  else if (key === '0' || key === 'u' || key === 'U') setLabel(null, false);
  else if (key === 'z' || key === 'Z') undo();
  else if (key === 'ArrowLeft') move(-1);
  else if (key === 'ArrowRight') move(1);
  else if (key === 'Enter' && !event.target.closest('button, a, summary, [role="button"]')) acceptPrediction();
  else return;
  event.preventDefault();
}

async function loadIds(startId) {
  setStatus('');
  state.ids = [];
  cache.clear();
  try {
    const data = await get('/api/v1/photos/ids', filterQuery());
    state.ids = (data && data.ids) || [];
  } catch (err) {
    showMessage(`Could not load the photo list: ${err.message}`);
    return;
  }
  const start = startId ? state.ids.indexOf(Number(startId)) : -1;
  state.index = Math.max(0, start);
  await show();
}

function selectIfPresent(select, value) {
  if (value && Array.from(select.options).some((o) => o.value === value)) select.value = value;
}

async function init() {
  const params = new URLSearchParams(window.location.search);
  const photoId = params.get('photo');
  selectIfPresent(ui.filter, params.get('filter') || (photoId ? 'all' : null));
  selectIfPresent(ui.order, params.get('order'));
  try {
    state.classes = await get('/api/v1/classes');
  } catch (err) {
    toast(`Could not load classes: ${err.message}`, 'error');
  }
  renderClassButtons();
  await loadIds(photoId);
}

// After a mouse/touch click, drop focus from the button so Enter means "accept", not "click that button again".
for (const container of [ui.buttons, ui.prediction, document.querySelector('.nav-buttons')]) {
  container.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (button && event.detail > 0) button.blur();
  });
}
ui.filter.addEventListener('change', () => loadIds());
ui.order.addEventListener('change', () => loadIds());
ui.prev.addEventListener('click', () => move(-1));
ui.next.addEventListener('click', () => move(1));
ui.unlabel.addEventListener('click', () => setLabel(null, false));
ui.undo.addEventListener('click', undo);
ui.accept.addEventListener('click', acceptPrediction);
ui.restart.addEventListener('click', () => loadIds());
document.addEventListener('keydown', onKey);
init();
