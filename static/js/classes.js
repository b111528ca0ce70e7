// Classes page: rename inline, colour, shortcut key, add, delete (asks when photos would lose their label),
// and restore a deleted class with its photos' labels.

import { ApiError, datasetChanged, del, get, patch, post, toast, toastError } from './api.js';
import { confirmDialog, el, formatDate, isAdmin, pageData, paintClass, replaceChildren } from './dom.js';

const page = pageData();
const list = document.getElementById('class-list');
const addForm = document.getElementById('add-class-form');
const addInput = document.getElementById('new-class-name');
const undoBanner = document.getElementById('class-undo');
const deletedCard = document.getElementById('deleted-card');
const deletedList = document.getElementById('deleted-list');
let classes = [];

function normaliseColor(color) {
  const text = String(color || '').trim().toLowerCase();
  if (/^#[0-9a-f]{6}$/.test(text)) return text;
  if (/^#[0-9a-f]{3}$/.test(text)) return `#${[...text.slice(1)].map((c) => c + c).join('')}`;
  return '#888888';
}

function keySelect(cls, id) {
  const current = cls.key === null || cls.key === undefined ? '' : String(cls.key);
  const options = [el('option', { value: '', text: '—', selected: current === '' })];
  for (let k = 1; k <= 9; k += 1) options.push(el('option', { value: String(k), text: String(k), selected: current === String(k) }));
  return el('select', { id, class: 'class-key' }, options);
}

function photosLink(cls) {
  const text = `${cls.count} photo${cls.count === 1 ? '' : 's'}`;
  if (!cls.count) return el('span', { class: 'class-count muted', text });
  return el('a', { class: 'class-count', href: `${page.photosUrl || '/photos'}?show=label:${encodeURIComponent(cls.name)}`, text });
}

function row(cls) {
  const id = `class-${cls.id}`;
  const name = el('input', { type: 'text', id: `${id}-name`, class: 'class-name', value: cls.name, maxlength: 64,
    autocomplete: 'off', required: true });
  const color = el('input', { type: 'color', id: `${id}-color`, class: 'class-color', value: normaliseColor(cls.color) });
  const key = keySelect(cls, `${id}-key`);
  // Only an admin may delete a class: nobody else is offered the button.
  const remove = isAdmin() ? el('button', { type: 'button', class: 'btn btn-small btn-danger delete-class-button',
    text: 'Delete', 'aria-label': `Delete class ${cls.name}` }) : null;
  const node = el('li', { class: 'class-row', dataset: { classId: cls.id, class: cls.name, count: cls.count } },
    el('div', { class: 'field' }, el('label', { for: color.id, text: 'Colour' }), color),
    el('form', { class: 'field field-name rename-form' }, el('label', { for: name.id, text: 'Name' }), name),
    el('div', { class: 'field' }, el('label', { for: key.id, text: 'Key' }), key),
    photosLink(cls), remove);
  bindRow(node, cls, { name, color, key, remove });
  return node;
}

function bindRow(node, cls, controls) {
  let sent = cls.name;
  const saveName = () => {
    const value = controls.name.value.trim();
    // Enter fires both "submit" and "change": send each new name once.
    if (value === cls.name || value === sent) return;
    if (!value) {
      toast('A class needs a name.', 'error', 4000);
      controls.name.value = cls.name;
      return;
    }
    sent = value;
    update(cls, { name: value }, `Renamed to “${value}”`);
  };
  node.querySelector('.rename-form').addEventListener('submit', (event) => {
    event.preventDefault();
    saveName();
  });
  controls.name.addEventListener('change', saveName);
  controls.color.addEventListener('change', () => update(cls, { color: controls.color.value }, 'Colour saved'));
  controls.key.addEventListener('change', () => {
    const value = controls.key.value === '' ? null : Number(controls.key.value);
    update(cls, { key: value }, value === null ? 'Shortcut key removed' : `Key ${value} saved`);
  });
  controls.remove?.addEventListener('click', () => remove(cls));
}

async function update(cls, body, message) {
  try {
    await patch(`/api/v1/classes/${cls.id}`, body);
    toast(message || 'Saved', 'success');
    datasetChanged();
  } catch (err) {
    toastError(err, 'Not saved');
  }
  await load();
}

async function askDelete(cls, count) {
  const message = count > 0
    ? `${count} photo${count === 1 ? '' : 's'} will become unlabeled. The photos themselves are kept, and you can `
      + 'restore the class with their labels afterwards.'
    : 'The class has no photos. You can restore it afterwards.';
  return confirmDialog({ title: `Delete class “${cls.name}”?`, message, confirmText: 'Delete class', danger: true });
}

async function remove(cls) {
  if (!(await askDelete(cls, cls.count))) return;
  let body;
  try {
    body = await del(`/api/v1/classes/${cls.id}`, cls.count > 0 ? { force: 1 } : undefined);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) {
      toastError(err, 'Not deleted');
      return;
    }
    // Photos were labeled meanwhile: ask again with the server's count.
    const count = err.data && err.data.count !== undefined ? err.data.count : 0;
    if (!(await askDelete(cls, count))) return;
    try {
      body = await del(`/api/v1/classes/${cls.id}`, { force: 1 });
    } catch (again) {
      toastError(again, 'Not deleted');
      return;
    }
  }
  showDeleted(cls, body || {});
  datasetChanged();
  await load();
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** After a delete: what changed (photos unlabeled, keys moved) and an Undo that restores it. */
function showDeleted(cls, body) {
  const moved = Object.entries(body.keys || {}).map(([name, key]) => `“${name}” is now key ${key}`);
  const parts = [`Deleted class “${cls.name}”`];
  if (body.unlabeled) parts.push(`${plural(body.unlabeled, 'photo')} became unlabeled`);
  if (moved.length) parts.push(`keys renumbered: ${moved.join(', ')}`);
  const undo = el('button', { type: 'button', class: 'btn btn-small', id: 'undo-delete-button', text: 'Undo' });
  undo.addEventListener('click', () => restore(body.restore_id, cls.name));
  undoBanner.hidden = false;
  replaceChildren(undoBanner, el('span', { text: `${parts.join('; ')}. ` }), isAdmin() ? undo : null);
}

async function restore(id, name) {
  try {
    const done = await post(`/api/v1/classes/deleted/${id}/restore`, {});
    const skipped = done.skipped ? ` (${plural(done.skipped, 'photo')} labeled otherwise since or deleted kept as they are)` : '';
    toast(`Restored “${name}”: ${plural(done.relabeled, 'photo')} labeled again${skipped}`, 'success', 6000);
    undoBanner.hidden = true;
    datasetChanged();
  } catch (err) {
    toastError(err, 'Not restored');
  }
  await load();
}

function deletedRow(item) {
  const swatch = paintClass(el('span', { class: 'swatch', 'aria-hidden': 'true' }), item.color);
  const text = `${item.name} · ${plural(item.photos, 'photo')} · deleted ${formatDate(item.deleted_at)}`;
  const button = isAdmin() ? el('button', { type: 'button', class: 'btn btn-small restore-class-button',
    text: 'Restore', 'aria-label': `Restore class ${item.name}` }) : null;
  button?.addEventListener('click', () => restore(item.id, item.name));
  return el('li', { class: 'deleted-row', dataset: { class: item.name } }, swatch, el('span', { text }), button);
}

async function loadDeleted() {
  let items = [];
  try {
    items = await get('/api/v1/classes/deleted');
  } catch {
    return; // the list of classes reports its own errors
  }
  deletedCard.hidden = items.length === 0;
  replaceChildren(deletedList, items.map(deletedRow));
}

async function load() {
  try {
    classes = await get('/api/v1/classes');
  } catch (err) {
    toastError(err, 'Could not load classes');
    return;
  }
  const active = document.activeElement && document.activeElement.id;
  replaceChildren(list, classes.length ? classes.map(row) : el('li', { class: 'muted', text: 'No classes yet. Add one below.' }));
  // Keep the keyboard user where they were after the list re-renders.
  if (active && document.getElementById(active)) document.getElementById(active).focus();
  await loadDeleted();
}

addForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = addInput.value.trim();
  if (!name) {
    toast('Type a name for the new class.', 'error', 4000);
    addInput.focus();
    return;
  }
  try {
    await post('/api/v1/classes', { name });
    addInput.value = '';
    toast(`Added class “${name}”`, 'success');
    datasetChanged();
    await load();
  } catch (err) {
    toastError(err, 'Not added');
  }
});

load();
