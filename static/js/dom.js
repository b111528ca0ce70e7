// Small DOM helpers shared by the pages. Styles are only ever set through element.style (CSP-safe).

/**
 * Build an element: el('a', {class: 'btn', href: '/x', text: 'Go', dataset: {id: 1}, on: {click: fn}}, ...children).
 * Other keys become attributes (true -> empty attribute, false/null -> left out).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'on') for (const [name, fn] of Object.entries(value)) node.addEventListener(name, fn);
    else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'disabled') node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Remove all children of a node and append new ones. */
export function replaceChildren(node, ...children) {
  node.textContent = '';
  append(node, children);
}

/** Relative luminance of a #rrggbb colour (WCAG formula). */
function luminance(hex) {
  const match = /^#?([0-9a-f]{6})$/i.exec(String(hex || '').trim());
  if (!match) return 0.2;
  const channels = [0, 2, 4].map((i) => parseInt(match[1].slice(i, i + 2), 16) / 255);
  const [r, g, b] = channels.map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Black or white, whichever reads better on the given background colour. */
export function readableText(hex) {
  const lum = luminance(hex);
  const onWhite = 1.05 / (lum + 0.05);
  const onBlack = (lum + 0.05) / 0.05;
  return onBlack >= onWhite ? '#111111' : '#ffffff';
}

/** Give a node its class colour through CSS variables (--class-color / --class-fg). */
export function paintClass(node, color) {
  if (!color) return node;
  node.style.setProperty('--class-color', color);
  node.style.setProperty('--class-fg', readableText(color));
  return node;
}

/** Paint every [data-color] element under root (server-rendered chips and swatches). */
export function paintColors(root = document) {
  for (const node of root.querySelectorAll('[data-color]')) paintClass(node, node.dataset.color);
}

/** A coloured chip for a class name; `classes` is the API's class list (for the colour). */
export function classChip(name, classes, extra = '') {
  const cls = (classes || []).find((c) => c.name === name);
  const chip = el('span', { class: `chip ${extra}`.trim(), text: name, dataset: { label: name } });
  if (cls) paintClass(chip, cls.color);
  return chip;
}

/** "87%" from 0.87; "–" for missing values. */
export function percent(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '–';
  return `${(Number(value) * 100).toFixed(digits)}%`;
}

/** "1.2 MB" style sizes. */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** "1 min 05 s" style durations from seconds. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return '–';
  const total = Math.max(0, Math.round(Number(seconds)));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  if (hours) return `${hours} h ${String(minutes).padStart(2, '0')} min`;
  if (minutes) return `${minutes} min ${String(secs).padStart(2, '0')} s`;
  return `${secs} s`;
}

/** Local date-time text for an ISO timestamp. */
export function formatDate(iso) {
  if (!iso) return '–';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

/** True when a key press belongs to a text field (global shortcuts must not fire there). */
export function isTypingTarget(target) {
  if (!target || !(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag !== 'INPUT') return false;
  const nonText = ['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'];
  return !nonText.includes((target.getAttribute('type') || 'text').toLowerCase());
}

/** Whether the signed-in person is an admin (base.html puts the role on <body data-role>). */
export function isAdmin() {
  return document.body.dataset.role === 'admin';
}

/** The page's data-* attributes from <main>. */
export function pageData() {
  const main = document.querySelector('main[data-page]') || document.querySelector('main');
  return main ? main.dataset : {};
}

/**
 * Ask for confirmation in an accessible modal <dialog id="confirm-dialog">; resolves true when confirmed.
 * Buttons: #confirm-ok and #confirm-cancel.
 */
export function confirmDialog({ title = 'Are you sure?', message = '', confirmText = 'OK', danger = false }) {
  document.getElementById('confirm-dialog')?.remove();
  const ok = el('button', {
    type: 'button', id: 'confirm-ok', class: `btn ${danger ? 'btn-danger-solid' : 'btn-primary'}`, text: confirmText,
  });
  const cancel = el('button', { type: 'button', id: 'confirm-cancel', class: 'btn', text: 'Cancel' });
  const dialog = el(
    'dialog',
    { id: 'confirm-dialog', class: 'confirm-dialog', 'aria-labelledby': 'confirm-title',
      'aria-describedby': 'confirm-message' },
    el('h2', { id: 'confirm-title', text: title }),
    el('p', { id: 'confirm-message', text: message }),
    el('div', { class: 'row' }, cancel, ok),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    const finish = (answer) => {
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(answer);
    };
    ok.addEventListener('click', () => finish(true));
    cancel.addEventListener('click', () => finish(false));
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      finish(false);
    });
    dialog.showModal();
    cancel.focus();
  });
}

/** Replace the current URL's query string without reloading (keeps filters shareable). */
export function setQueryString(params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '' && value !== false) query.set(key, value);
  }
  const text = query.toString();
  window.history.replaceState(null, '', `${window.location.pathname}${text ? `?${text}` : ''}`);
}

/**
 * Shortcut keys for classes, in list order: each class's own `key` (1-9) where set, otherwise the lowest
 * digit nobody uses (null when none is left).
 */
export function classKeys(classes) {
  const own = (classes || []).map((c) => (c.key === null || c.key === undefined || c.key === '' ? null : String(c.key)));
  const used = new Set(own.filter(Boolean));
  const free = ['1', '2', '3', '4', '5', '6', '7', '8', '9'].filter((k) => !used.has(k));
  return own.map((key) => key ?? free.shift() ?? null);
}
