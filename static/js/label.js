// Label page: one photo at a time, number keys label and advance, arrows move, 0/u unlabel, z undo, Enter accepts.

import { datasetChanged, get, patch, toast } from './api.js';
import {
  classChip, classKeys, el, isTypingTarget, pageData, paintClass, replaceChildren, setQueryString,
} from './dom.js';
import { guessOf, guessText, rateText, watchSuggestions } from './suggest.js';
import { onSwipe } from './swipe.js';

const page = pageData();
const $ = (id) => document.getElementById(id);
const ui = {
  filter: $('label-filter'), order: $('label-order'), image: $('label-image'), empty: $('label-empty'),
  position: $('label-position'), current: $('label-current'), split: $('label-split'), filename: $('label-filename'),
  buttons: $('class-buttons'), prediction: $('prediction'), predLabel: $('prediction-label'),
  predConfidence: $('prediction-confidence'), accept: $('accept-button'), status: $('save-status'),
  stage: $('label-stage'), prev: $('prev-button'), next: $('next-button'), unlabel: $('unlabel-button'), undo: $('undo-button'),
  done: $('label-done'), doneText: $('label-done-text'), restart: $('restart-button'),
  doneImbalance: $('label-done-imbalance'),
  predSource: $('prediction-source'), disagree: $('prediction-disagree'), rate: $('suggest-rate'),
};

// ids: the part of the walk loaded so far; the server sends it a page at a time (`next` continues it).
const state = { ids: [], index: 0, classes: [], keys: [], undo: [], token: 0, total: 0, next: null, list: 0, more: null, dataset: null };
const MAX_START_PAGES = 50; // how far to page looking for the photo named in the URL
const PREFETCH = 3;
const cache = new Map(); // id -> the photo as the server last reported it
const loading = new Map(); // id -> the GET in flight for it
const preloaded = new Set(); // display URLs already asked for
// Saves run in the background, one at a time, in the order of the key presses; the page moves on at once.
const saves = { chain: Promise.resolve(), queued: 0 };
const intended = new Map(); // id -> the label queued for it, shown until its saves settle
const pendingFor = new Map(); // id -> number of its saves not settled yet
const failed = new Map(); // id -> why its last save failed (until a later save of it succeeds)
const labeled = new Set(); // photos labeled in this session (the end-of-list count)
const savedLabeled = new Set(); // photos this session saved with a label (what `labeled` falls back to)

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

/** The label the page shows for a photo: the queued one while its saves run, else the server's. */
function labelOf(id) {
  if (intended.has(id)) return intended.get(id);
  const photo = cache.get(id);
  return photo ? photo.label ?? null : undefined;
}

function labelText(label) {
  return label ? `“${label}”` : 'unlabeled';
}

function setStatus(text, kind = '', ...extra) {
  replaceChildren(ui.status, text, ...extra);
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
    if (cls.count !== undefined) button.dataset.count = cls.count;
    paintClass(button, cls.color);
    button.addEventListener('click', () => setLabel(cls.name, true));
    return button;
  });
  if (!buttons.length) {
    buttons.push(el('p', {}, 'No classes yet. ', el('a', { href: '/classes', text: 'Add classes first' }), '.'));
  }
  replaceChildren(ui.buttons, buttons);
}

/** The photo's details: from the cache, or one GET shared by everyone who asks while it runs. */
function loadPhoto(id) {
  if (cache.has(id)) return Promise.resolve(cache.get(id));
  if (!loading.has(id)) {
    const request = get(`/api/v1/photos/${id}`).then((photo) => {
      if (loading.get(id) === request) loading.delete(id);
      // A save that answered meanwhile knows better than this (possibly older) answer.
      if (!cache.has(id)) cache.set(id, photo);
      return cache.get(id);
    }, (err) => {
      if (loading.get(id) === request) loading.delete(id);
      throw err;
    });
    loading.set(id, request);
  }
  return loading.get(id);
}

function prefetch(index) {
  for (const id of state.ids.slice(index, index + PREFETCH)) {
    loadPhoto(id).then((photo) => {
      if (!photo.display_url || preloaded.has(photo.display_url)) return;
      preloaded.add(photo.display_url);
      const img = new Image();
      img.src = photo.display_url;
    }).catch(() => {});
  }
}

function showMessage(text, ...extra) {
  ui.stage.classList.remove('is-loading');
  ui.image.hidden = true;
  ui.image.removeAttribute('src');
  delete ui.image.dataset.photoId;
  ui.empty.hidden = false;
  replaceChildren(ui.empty, text, ...extra);
}

/** No photo on screen: no label, split, file name or pressed class button left from the last one. */
function clearPhotoDetails() {
  replaceChildren(ui.current);
  ui.split.hidden = true;
  ui.split.textContent = '';
  ui.filename.textContent = '';
  ui.prediction.hidden = true;
  for (const button of ui.buttons.querySelectorAll('.class-button')) button.setAttribute('aria-pressed', 'false');
}

/** Nothing to show: say what to do first (no photos yet: upload; all labeled: train). */
async function renderEmpty() {
  ui.done.hidden = true;
  ui.position.textContent = '0 / 0';
  clearPhotoDetails();
  const token = state.token;
  const total = await get('/api/v1/dataset').then((d) => d.total, () => null);
  if (token !== state.token) return;
  const link = (href, text, primary) => el('a', { href, text, class: `btn btn-small${primary ? ' btn-primary' : ''}` });
  const upload = (primary) => link(page.uploadUrl || '/', 'Upload photos', primary);
  const train = link(page.trainUrl || '/train', 'Go to Train', true);
  if (total === 0) {
    showMessage('No photos yet. Upload some photos first, then label them here. ', el('div', { class: 'row' }, upload(true)));
  } else if (ui.filter.value === 'unlabeled') {
    const all = total ? `All ${total} photos are labeled. ` : 'Every photo is labeled. ';
    showMessage(all, el('div', { class: 'row' }, train, upload(false)));
  } else {
    showMessage('No photos match this filter. ', el('div', { class: 'row' }, upload(false), train));
  }
}

function atEnd() {
  return state.ids.length > 0 && state.index >= state.ids.length;
}

/** The end-of-list screen; its banner (with the count and "Go to Train") waits until every label is saved. */
function renderDone() {
  const waiting = saves.queued;
  ui.done.hidden = waiting > 0;
  const n = labeled.size;
  // Skipped: photos of this list left unlabeled (on other lists, photos whose label is unknown are not counted).
  const skipped = state.ids.filter((id) => (ui.filter.value === 'unlabeled' ? !labelOf(id) : labelOf(id) === null)).length;
  ui.doneText.textContent = ` ${n} photo${n === 1 ? '' : 's'} labeled in this session`
    + (skipped ? `, ${skipped} skipped (still unlabeled).` : '.');
  ui.restart.textContent = skipped && ui.filter.value === 'unlabeled' ? `Label the ${skipped} skipped` : 'Start over';
  renderDoneImbalance();
  showMessage('End of the list.', waiting ? ` Saving ${waiting} label${waiting === 1 ? '' : 's'}…` : '');
  ui.position.textContent = `${state.ids.length} / ${state.ids.length}`;
  ui.prev.disabled = state.ids.length === 0;
  clearPhotoDetails();
}

/** The end of a pass is where the class balance matters (mid-labeling it would only push the photo down). */
function renderDoneImbalance() {
  const info = (state.dataset && state.dataset.imbalance) || {};
  ui.doneImbalance.hidden = !info.warning;
  ui.doneImbalance.textContent = info.warning ? `⚠ ${info.message}` : '';
}

function renderLabel(photo) {
  const label = labelOf(photo.id);
  replaceChildren(ui.current, label ? classChip(label, state.classes)
    : el('span', { class: 'chip chip-outline', text: 'Unlabeled' }));
  ui.split.hidden = !photo.split;
  ui.split.textContent = photo.split ? `split: ${photo.split}` : '';
  for (const button of ui.buttons.querySelectorAll('.class-button')) {
    button.setAttribute('aria-pressed', String(button.dataset.class === label));
  }
  renderPrediction(photo);
}

/**
 * The guess beside the photo. Unlabeled: "beer? 87 %", Enter accepts it. Labeled otherwise than the guess: the
 * disagreement, and a button to change the label (never Enter: a person's label changes only on purpose).
 */
function renderPrediction(photo) {
  const guess = guessOf(photo);
  const label = labelOf(photo.id);
  ui.prediction.hidden = !guess || label === undefined || label === guess.label;
  if (ui.prediction.hidden) return;
  const accepting = !label;
  ui.prediction.dataset.mode = accepting ? 'accept' : 'change';
  ui.prediction.dataset.source = guess.source;
  ui.predSource.textContent = guess.source === 'suggestion' ? 'Suggestion: ' : 'Model says: ';
  replaceChildren(ui.predLabel, classChip(guess.label, state.classes));
  ui.predConfidence.textContent = guessText(guess).slice(guess.label.length);
  ui.disagree.hidden = accepting;
  ui.disagree.textContent = accepting ? '' : `, labeled “${label}”`;
  if (accepting) {
    replaceChildren(ui.accept, `Accept “${guess.label}”`, el('span', { class: 'key-hint', text: ' (Enter)' }));
    ui.accept.setAttribute('aria-keyshortcuts', 'Enter');
  } else {
    replaceChildren(ui.accept, `Change to “${guess.label}”`);
    ui.accept.removeAttribute('aria-keyshortcuts');
  }
  ui.accept.classList.toggle('btn-primary', accepting);
  ui.accept.dataset.class = guess.label;
}

function renderPhoto(photo) {
  ui.done.hidden = true;
  ui.empty.hidden = true;
  ui.stage.classList.remove('is-loading');
  ui.image.hidden = false;
  ui.image.src = photo.display_url;
  ui.image.alt = `Photo ${photo.filename}`;
  ui.image.dataset.photoId = photo.id;
  ui.position.textContent = `${state.index + 1} / ${Math.max(state.total, state.ids.length)}`;
  ui.filename.textContent = `#${photo.id} · ${photo.filename}`;
  renderLabel(photo);
  ui.prev.disabled = state.index === 0;
  setQueryString({ filter: ui.filter.value, order: ui.order.value, photo: photo.id });
}

/** Repaint what is on screen after a save settled (its label, or the end screen's banner). */
function refreshShown(id) {
  if (atEnd()) renderDone();
  else if (String(id) === ui.image.dataset.photoId && cache.has(id)) renderLabel(cache.get(id));
}

async function show() {
  const token = ++state.token;
  if (!state.ids.length) return renderEmpty();
  if (state.index >= state.ids.length) return renderDone();
  const id = state.ids[state.index];
  // Still loading: dim the old picture so nobody takes it for the photo the next key press labels.
  if (!cache.has(id)) ui.stage.classList.add('is-loading');
  try {
    const photo = await loadPhoto(id);
    if (token !== state.token) return;
    renderPhoto(photo);
    prefetch(state.index + 1);
    if (state.next && state.index + PREFETCH + 1 >= state.ids.length) {
      loadMore().then(() => prefetch(state.index + 1), () => {}); // tried again on the next move
    }
  } catch (err) {
    if (token !== state.token) return;
    showMessage(`Could not load photo #${id}: ${err.message}`);
  }
}

async function move(delta, keepStatus = false) {
  if (delta > 0 && state.index + delta >= state.ids.length && state.next) {
    try {
      await loadMore();
    } catch (err) {
      setStatus(`Could not load more photos: ${err.message}`, 'error');
      return;
    }
  }
  const next = Math.min(state.ids.length, Math.max(0, state.index + delta));
  if (next === state.index) return;
  state.index = next;
  if (!keepStatus && !saves.queued && !failed.size) setStatus('');
  show();
}

function goToPhoto(id) {
  const index = state.ids.indexOf(id);
  if (index < 0) return;
  state.index = index;
  show();
}

/** The label the page now means for a photo (shown at once, saved in the background). */
function intend(id, label) {
  intended.set(id, label);
  if (label) labeled.add(id);
  else labeled.delete(id);
}

/** After a failed save with nothing else queued for the photo: show (and count) what the server has. */
function revert(id) {
  if ((pendingFor.get(id) || 0) > 0) return;
  intended.delete(id);
  if (labelOf(id) && savedLabeled.has(id)) labeled.add(id);
  else labeled.delete(id);
}

function failedNote() {
  if (!failed.size) return [];
  const ids = Array.from(failed.keys());
  return [' · Still not saved: ', ids.map((id, i) => [i ? ', ' : '',
    el('button', { type: 'button', class: 'link-button', text: `#${id}`, on: { click: () => goToPhoto(id) } })]),
  ' (open it and label it again)'];
}

/**
 * Queue one save of photo `id`. `job.label()` gives the label to send (called when its turn comes, so it can
 * use what earlier saves found out); `job.done(label)` / `job.fail(err)` report the outcome.
 */
function queueSave(id, job) {
  pendingFor.set(id, (pendingFor.get(id) || 0) + 1);
  saves.queued += 1;
  setStatus('Saving…', 'busy');
  saves.chain = saves.chain.then(async () => {
    let outcome;
    try {
      const label = await job.label();
      if (label === undefined) throw new Error('nothing to save');
      const updated = await patch(`/api/v1/photos/${id}`, { label });
      const before = cache.get(id);
      if (updated && updated.id) cache.set(id, updated);
      else if (before) cache.set(id, { ...before, label });
      if (label) savedLabeled.add(id);
      else savedLabeled.delete(id);
      failed.delete(id);
      outcome = () => job.done(label);
    } catch (err) {
      outcome = () => job.fail(err);
    }
    pendingFor.set(id, pendingFor.get(id) - 1);
    saves.queued -= 1;
    if (!pendingFor.get(id)) {
      pendingFor.delete(id);
      intended.delete(id);
    }
    outcome();
    refreshShown(id);
  });
}

/** Label the current photo (null: unlabel) and optionally move on at once; the save runs in the background. */
function setLabel(label, advance) {
  if (state.index >= state.ids.length) return;
  const id = state.ids[state.index];
  if (!cache.has(id) && !loading.has(id)) return; // its details failed to load: nothing on screen to label
  const current = labelOf(id); // undefined: details still loading (the save finds out the label before it)
  if (current === label) {
    setStatus(label ? `#${id} is already “${label}”` : `#${id} is already unlabeled`, 'ok');
    if (advance) move(1, true);
    return;
  }
  const entry = { id, label, previous: current, failed: false };
  state.undo.push(entry);
  ui.undo.disabled = false;
  intend(id, label);
  queueSave(id, {
    label: async () => {
      if (entry.previous === undefined) entry.previous = (await loadPhoto(id)).label ?? null;
      return label;
    },
    done: () => {
      setStatus(`Saved: #${id} is ${labelText(label)}`, failed.size ? 'error' : 'ok', ...failedNote());
      datasetChanged();
    },
    fail: (err) => {
      entry.failed = true;
      const index = state.undo.indexOf(entry);
      if (index >= 0) state.undo.splice(index, 1);
      ui.undo.disabled = state.undo.length === 0;
      failed.set(id, err.message);
      revert(id);
      const kept = labelOf(id);
      setStatus(`Not saved: ${err.message}. Photo #${id} is still ${kept === undefined ? 'as it was' : labelText(kept)}; `,
        'error', el('button', { type: 'button', class: 'link-button', text: `open #${id}`,
          on: { click: () => goToPhoto(id) } }), ' and try again.');
      toast(`Label not saved: ${err.message}`, 'error');
    },
  });
  if (advance) move(1, true);
  else if (cache.has(id) && String(id) === ui.image.dataset.photoId) renderLabel(cache.get(id));
}

/** Undo the last label (even one still waiting to be saved): put the previous label back and show that photo. */
function undo() {
  const entry = state.undo.pop();
  ui.undo.disabled = state.undo.length === 0;
  if (!entry) return;
  if (entry.previous !== undefined) intend(entry.id, entry.previous);
  queueSave(entry.id, {
    label: async () => (entry.failed ? undefined : entry.previous),
    done: (label) => {
      setStatus(`Undone: #${entry.id} is ${labelText(label)} again`, failed.size ? 'error' : 'ok', ...failedNote());
      datasetChanged();
    },
    fail: (err) => {
      revert(entry.id);
      if (entry.failed) {
        setStatus(`Nothing to undo: the label of #${entry.id} was not saved.`, 'error', ...failedNote());
        return;
      }
      state.undo.push(entry);
      ui.undo.disabled = false;
      setStatus(`Undo failed: ${err.message}`, 'error');
      toast(`Undo failed: ${err.message}`, 'error');
    },
  });
  goToPhoto(entry.id);
}

/** Enter: label an unlabeled photo as the guess says; a labeled photo keeps its label (say how to change it). */
function acceptByKey() {
  const photo = currentPhoto();
  const guess = guessOf(photo);
  if (!guess || ui.image.hidden) return;
  const label = labelOf(photo.id);
  if (!label) setLabel(guess.label, true);
  else if (label !== guess.label) {
    setStatus(`Enter never replaces a label: #${photo.id} stays “${label}”. Press its class key or “Change to” to change it.`, 'ok');
  }
}

/** The guess's button: accept (unlabeled, then move on) or change a label on purpose (and stay). */
function onGuessButton() {
  const photo = currentPhoto();
  const guess = guessOf(photo);
  if (!guess || ui.image.hidden) return;
  if (labelOf(photo.id)) setLabel(guess.label, false);
  else setLabel(guess.label, true);
}

/** A fresher suggestion round: forget cached guesses (labels still being saved stay) and show the new one. */
function onSuggestions(summary, newer) {
  ui.rate.textContent = rateText(summary);
  if (!newer) return;
  const shown = state.ids[state.index];
  for (const id of Array.from(cache.keys())) if (id !== shown) cache.delete(id);
  if (shown === undefined || !cache.has(shown)) return;
  get(`/api/v1/photos/${shown}`).then((fresh) => {
    const kept = cache.get(shown);
    if (!kept) return;
    cache.set(shown, { ...kept, suggestion: fresh.suggestion, prediction: fresh.prediction });
    if (String(shown) === ui.image.dataset.photoId) renderPrediction(cache.get(shown));
  }, () => {});
  prefetch(state.index + 1);
}
const suggestions = watchSuggestions(onSuggestions);

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
  else if (key === 'Enter' && !event.target.closest('button, a, summary, [role="button"]')) acceptByKey();
  else return;
  event.preventDefault();
}

/** Append the next page of the walk (one request at a time); resolves once it is in. */
function loadMore() {
  if (!state.next) return Promise.resolve();
  if (!state.more) {
    const list = state.list;
    state.more = get('/api/v1/photos/ids', { ...filterQuery(), after: state.next }).then((data) => {
      if (list !== state.list) return;
      const known = new Set(state.ids);
      state.ids.push(...data.ids.filter((id) => !known.has(id)));
      state.next = data.next;
    }).finally(() => {
      if (list === state.list) state.more = null;
    });
  }
  return state.more;
}

async function loadIds(startId) {
  if (!saves.queued && !failed.size) setStatus('');
  Object.assign(state, { ids: [], total: 0, next: null, more: null });
  state.list += 1;
  state.token += 1;
  cache.clear();
  loading.clear();
  try {
    const data = await get('/api/v1/photos/ids', filterQuery());
    Object.assign(state, { ids: data.ids, total: data.total, next: data.next });
    const wanted = Number(startId);
    for (let pages = 0; startId && !state.ids.includes(wanted) && state.next && pages < MAX_START_PAGES; pages++) {
      await loadMore();
    }
  } catch (err) {
    showMessage(`Could not load the photo list: ${err.message}`);
    return;
  }
  const start = startId ? state.ids.indexOf(Number(startId)) : -1;
  state.index = Math.max(0, start);
  await show();
}

/** The photos per class on the class buttons (phones hide the count bar while labeling). */
function showCounts(dataset) {
  state.dataset = dataset;
  if (atEnd()) renderDoneImbalance();
  const counts = new Map(dataset.classes.map((cls) => [cls.name, cls.count]));
  for (const button of ui.buttons.querySelectorAll('.class-button')) {
    if (counts.has(button.dataset.class)) button.dataset.count = counts.get(button.dataset.class);
  }
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
ui.accept.addEventListener('click', onGuessButton);
document.addEventListener('dataset-changed', () => suggestions.changed());
ui.restart.addEventListener('click', () => loadIds());
document.addEventListener('keydown', onKey);
document.addEventListener('dataset-loaded', (event) => showCounts(event.detail));
ui.image.draggable = false; // a mouse drag is a swipe here, not a drag of the picture
onSwipe(ui.stage, { onLeft: () => move(1), onRight: () => move(-1) });
init();
