// Photos page: filtered, paginated thumbnail grid with multi-select and bulk actions.

import { datasetChanged, get, post, toast, toastError } from './api.js';
import { classChip, confirmDialog, el, pageData, replaceChildren, setQueryString } from './dom.js';
import { guessOf, guessText } from './suggest.js';

const PER_PAGE = 48;
const page = pageData();
const $ = (id) => document.getElementById(id);
const ui = {
  show: $('filter-show'), split: $('filter-split'), order: $('filter-order'), grid: $('photo-grid'),
  empty: $('photos-empty'), total: $('photos-total'), count: $('selection-count'), bar: $('bulk-bar'),
  selectAll: $('select-all-page'), clear: $('clear-selection'), bulkActions: $('bulk-actions'),
  trashActions: $('trash-actions'), bulkLabel: $('bulk-label'), bulkSplit: $('bulk-split'),
  prev: $('prev-page'), next: $('next-page'), pageInfo: $('page-info'), pagination: $('pagination'),
};
const state = {
  page: 1, total: 0, photos: [], classes: [], selected: new Set(), lastIndex: null, busy: false, group: null,
};

const inTrash = () => ui.show.value === 'trash';
const pageCount = () => Math.max(1, Math.ceil(state.total / PER_PAGE));

function query() {
  const show = ui.show.value;
  const q = { split: ui.split.value, order: ui.order.value, page: state.page, per_page: PER_PAGE };
  if (show === 'unlabeled') q.unlabeled = 1;
  else if (show === 'trash') q.trash = 1;
  else if (show.startsWith('label:')) q.label = show.slice(6);
  if (state.group) q.group = state.group;
  return q;
}

function tile(photo, index) {
  const selected = state.selected.has(photo.id);
  const label = photo.label ? classChip(photo.label, state.classes) : el('span', { class: 'chip chip-outline', text: 'unlabeled' });
  return el('li', {
    class: `tile photo-tile${selected ? ' is-selected' : ''}`,
    dataset: { photoId: photo.id, index, label: photo.label || '', split: photo.split || '' },
  },
  el('img', { class: 'tile-thumb', src: photo.thumbnail_url, alt: photo.filename, loading: 'lazy', width: 200, height: 200 }),
  el('span', { class: 'tile-check' }, el('input', {
    type: 'checkbox', class: 'photo-check', checked: selected, 'aria-label': `Select ${photo.filename}`,
  })),
  inTrash() ? null : el('a', {
    class: 'tile-open', href: `${page.labelUrl || '/label'}?photo=${photo.id}`, text: 'Open',
    'aria-label': `Open ${photo.filename} in the labeling view`,
  }),
  el('div', { class: 'tile-body' },
    el('div', { class: 'tile-line' }, label, photo.split ? el('span', { class: 'badge', text: photo.split }) : null,
      photo.group && !state.group ? el('a', {
        class: 'badge tile-group', href: `?group=${photo.group}`, text: 'near-duplicates',
        'aria-label': `Show the near-duplicates of #${photo.id}`,
      }) : null),
    guessLine(photo),
    el('span', { class: 'tile-name', text: `#${photo.id} ${photo.filename}`, title: photo.filename })));
}

/** The suggestion under a photo: "beer? 87 %" when unlabeled; the disagreement when labeled otherwise. */
function guessLine(photo) {
  const guess = guessOf(photo);
  if (!guess || inTrash() || photo.label === guess.label) return null;
  const text = photo.label ? `Suggestion: ${guessText(guess)} (labeled ${photo.label})` : guessText(guess);
  return el('span', { class: `tile-guess${photo.label ? ' is-disagreement' : ''}`, text });
}

/** An empty grid says why: the trash is empty, no photo at all yet (upload first), or the filters. */
async function renderEmpty() {
  ui.empty.hidden = state.photos.length > 0;
  if (ui.empty.hidden) return;
  if (inTrash()) return replaceChildren(ui.empty, 'The trash is empty.');
  const total = await get('/api/v1/dataset').then((d) => d.total, () => null);
  if (state.photos.length) return; // photos arrived meanwhile
  const upload = (primary) => el('a', { class: `btn btn-small${primary ? ' btn-primary' : ''}`, href: page.uploadUrl || '/',
    text: 'Upload photos' });
  if (total === 0) {
    replaceChildren(ui.empty, el('strong', { text: 'No photos yet. ' }),
      'Upload some photos first (or a zip of folders named after your classes); they appear here. ', upload(true));
  } else {
    replaceChildren(ui.empty, 'No photos match these filters. ', upload(false));
  }
}

function renderSelection() {
  const n = state.selected.size;
  ui.count.textContent = `${n} selected`;
  ui.bar.classList.toggle('has-selection', n > 0);
  ui.clear.disabled = n === 0;
  for (const control of document.querySelectorAll('.bulk-needs-selection')) control.disabled = n === 0 || state.busy;
  const allOnPage = state.photos.length > 0 && state.photos.every((p) => state.selected.has(p.id));
  ui.selectAll.textContent = allOnPage ? 'Unselect page' : 'Select all on page';
  for (const node of ui.grid.querySelectorAll('.photo-tile')) {
    const on = state.selected.has(Number(node.dataset.photoId));
    node.classList.toggle('is-selected', on);
    node.querySelector('.photo-check').checked = on;
  }
}

function render() {
  replaceChildren(ui.grid, state.photos.map((photo, i) => tile(photo, i)));
  ui.total.textContent = `${state.total} photo${state.total === 1 ? '' : 's'}${inTrash() ? ' in the trash' : ''}`;
  ui.pageInfo.textContent = `Page ${state.page} of ${pageCount()}`;
  ui.prev.disabled = state.page <= 1;
  ui.next.disabled = state.page >= pageCount();
  ui.pagination.hidden = state.total <= PER_PAGE;
  ui.bulkActions.hidden = inTrash();
  ui.trashActions.hidden = !inTrash();
  $('empty-trash').disabled = state.total === 0;
  renderEmpty();
  renderSelection();
}

async function load() {
  setQueryString({ show: ui.show.value === 'all' ? '' : ui.show.value, split: ui.split.value,
    order: ui.order.value === 'newest' ? '' : ui.order.value, page: state.page > 1 ? state.page : '',
    group: state.group || '' });
  try {
    const data = await get('/api/v1/photos', query());
    state.photos = data.photos || [];
    state.total = data.total || 0;
    if (!state.photos.length && state.page > 1 && state.total > 0) {
      state.page = pageCount();
      return load();
    }
  } catch (err) {
    state.photos = [];
    toastError(err, 'Could not load photos');
  }
  state.lastIndex = null;
  render();
}

function toggle(index, checked, shift) {
  const from = shift && state.lastIndex !== null ? Math.min(state.lastIndex, index) : index;
  const to = shift && state.lastIndex !== null ? Math.max(state.lastIndex, index) : index;
  for (let i = from; i <= to; i += 1) {
    const id = state.photos[i].id;
    if (checked) state.selected.add(id);
    else state.selected.delete(id);
  }
  state.lastIndex = index;
  renderSelection();
}

function onGridClick(event) {
  const node = event.target.closest('.photo-tile');
  if (!node || event.target.closest('a')) return;
  const box = node.querySelector('.photo-check');
  if (event.target !== box) box.checked = !box.checked;
  toggle(Number(node.dataset.index), box.checked, event.shiftKey);
}

function selectAllOnPage() {
  const allOnPage = state.photos.every((p) => state.selected.has(p.id));
  for (const photo of state.photos) {
    if (allOnPage) state.selected.delete(photo.id);
    else state.selected.add(photo.id);
  }
  renderSelection();
}

async function bulk(body, doneText) {
  const ids = Array.from(state.selected);
  if (!ids.length) return;
  state.busy = true;
  renderSelection();
  try {
    const data = await post('/api/v1/photos/bulk', { ids, ...body });
    const n = data && data.updated !== undefined ? data.updated : ids.length;
    toast(`${doneText}: ${n} photo${n === 1 ? '' : 's'}`, 'success');
    state.selected.clear();
    datasetChanged();
  } catch (err) {
    toastError(err, 'Nothing changed');
  } finally {
    state.busy = false;
  }
  await load();
}

function plural(n) {
  return `${n} photo${n === 1 ? '' : 's'}`;
}

async function bulkDelete() {
  const n = state.selected.size;
  const ok = await confirmDialog({ title: 'Move to the trash?', confirmText: 'Delete', danger: true,
    message: `${plural(n)} will move to the trash. You can restore them from the trash until it is emptied.` });
  if (ok) bulk({ action: 'delete' }, 'Moved to the trash');
}

async function emptyTrash() {
  const ok = await confirmDialog({ title: 'Empty the trash?', confirmText: 'Delete forever', danger: true,
    message: `${plural(state.total)} in the trash will be deleted for good. This cannot be undone.` });
  if (!ok) return;
  try {
    const data = await post('/api/v1/trash/empty', {});
    toast(`Deleted ${plural(data && data.removed !== undefined ? data.removed : 0)} for good`, 'success');
    state.selected.clear();
    datasetChanged();
  } catch (err) {
    toastError(err, 'Could not empty the trash');
  }
  await load();
}

function applyLabel() {
  if (!ui.bulkLabel.value) {
    toast('Pick a class to apply first.', 'error', 3000);
    ui.bulkLabel.focus();
    return;
  }
  bulk({ label: ui.bulkLabel.value }, `Labeled “${ui.bulkLabel.value}”`);
}

function applySplit() {
  if (!ui.bulkSplit.value) {
    toast('Pick a split first.', 'error', 3000);
    ui.bulkSplit.focus();
    return;
  }
  bulk({ split: ui.bulkSplit.value }, `Moved to ${ui.bulkSplit.value}`);
}

function onFilterChange() {
  state.page = 1;
  state.selected.clear();
  load();
}

function selectIfPresent(select, value) {
  if (value && Array.from(select.options).some((o) => o.value === value)) select.value = value;
}

async function init() {
  const params = new URLSearchParams(window.location.search);
  selectIfPresent(ui.show, params.get('show'));
  selectIfPresent(ui.split, params.get('split'));
  selectIfPresent(ui.order, params.get('order'));
  state.page = Math.max(1, Number(params.get('page')) || 1);
  state.group = /^[1-9][0-9]{0,17}$/.test(params.get('group') || '') ? params.get('group') : null;
  const groupNote = $('group-filter');
  groupNote.hidden = !state.group;
  if (state.group) {
    replaceChildren(groupNote, `Near-duplicates of photo #${state.group} (they always share a split). `,
      el('a', { href: window.location.pathname, text: 'Show all photos' }));
  }
  try {
    state.classes = await get('/api/v1/classes');
  } catch {
    state.classes = [];
  }
  await load();
}

$('photo-filters').addEventListener('submit', (event) => event.preventDefault());
for (const select of [ui.show, ui.split, ui.order]) select.addEventListener('change', onFilterChange);
ui.grid.addEventListener('click', onGridClick);
document.addEventListener('photos-changed', () => load()); // labels changed elsewhere on the page
ui.selectAll.addEventListener('click', selectAllOnPage);
ui.clear.addEventListener('click', () => {
  state.selected.clear();
  renderSelection();
});
$('bulk-label-apply').addEventListener('click', applyLabel);
$('bulk-unlabel').addEventListener('click', () => bulk({ label: null }, 'Unlabeled'));
$('bulk-split-apply').addEventListener('click', applySplit);
$('bulk-delete').addEventListener('click', bulkDelete);
$('bulk-restore').addEventListener('click', () => bulk({ action: 'restore' }, 'Restored'));
$('empty-trash').addEventListener('click', emptyTrash);
ui.prev.addEventListener('click', () => { state.page -= 1; load(); });
ui.next.addEventListener('click', () => { state.page += 1; load(); });
init();
