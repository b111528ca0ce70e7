// Shared client for the JSON API: CSRF header, JSON in/out, {"error"} -> thrown Error, toasts, uploads.

const UPLOAD_URL = '/api/v1/photos';

/** Error thrown for any failed API call; `status` is the HTTP status (0: network), `data` the JSON body. */
export class ApiError extends Error {
  constructor(message, status, data) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.data = data;
  }
}

/** The CSRF token the server put in the page's <meta name="csrf-token">. */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') : '';
}

/** Turn {a: 1, b: '', c: true} into "?a=1&c=1"; empty, null, undefined and false values are left out. */
export function buildQuery(params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === '' || value === false) continue;
    query.append(key, value === true ? '1' : String(value));
  }
  const text = query.toString();
  return text ? `?${text}` : '';
}

function fallbackMessage(status) {
  if (status === 413) return 'The file is too large for the server.';
  if (status === 400) return 'The server refused the request (HTTP 400). Reload the page and try again.';
  if (status === 404) return 'Not found (HTTP 404).';
  if (status >= 500) return `The server had a problem (HTTP ${status}). Try again in a moment.`;
  return `Request failed (HTTP ${status}).`;
}

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorFrom(status, data) {
  const message = data && typeof data.error === 'string' && data.error ? data.error : fallbackMessage(status);
  return new ApiError(message, status, data);
}

const RETRIES = 3; // a 503 with Retry-After (a busy database or worker: nothing was changed) is tried again
const MAX_RETRY_SECONDS = 30;

function retryDelay(response, attempt) {
  if (response.status !== 503 || attempt >= RETRIES) return null;
  const seconds = Number(response.headers.get('Retry-After'));
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, MAX_RETRY_SECONDS) : null;
}

function wait(seconds, signal) {
  return new Promise((resolve, reject) => {
    const timer = window.setTimeout(resolve, seconds * 1000);
    signal?.addEventListener('abort', () => {
      window.clearTimeout(timer);
      reject(new DOMException('Aborted', 'AbortError'));
    }, { once: true });
  });
}

async function send(path, init, query) {
  try {
    return await fetch(path + buildQuery(query), init);
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError('Cannot reach the server. Check the connection and try again.', 0, null);
  }
}

/** Call the API and keep the response: resolves to {data, response}; 503s with Retry-After are retried. */
export async function request(path, { method = 'GET', body, query, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', signal };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRFToken'] = csrfToken();
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  for (let attempt = 0; ; attempt++) {
    const response = await send(path, init, query);
    const data = parseJson(await response.text());
    if (response.ok) return { data, response };
    const delay = retryDelay(response, attempt);
    if (delay === null) throw errorFrom(response.status, data);
    if (attempt === 0) toast(`${errorFrom(response.status, data).message} Trying again in ${delay} s…`, 'info', delay * 1000 + 1500);
    await wait(delay, signal);
  }
}

/** Call the API: `api(path, {method, body, query, signal})`; resolves to the parsed JSON (or null). */
export async function api(path, options = {}) {
  return (await request(path, options)).data;
}

/** GET a paged list: {items, total} (total from the X-Total-Count header). */
export async function getPage(path, query) {
  const { data, response } = await request(path, { query });
  const total = Number(response.headers.get('X-Total-Count'));
  return { items: data || [], total: Number.isFinite(total) && total >= 0 ? total : (data || []).length };
}

export const get = (path, query) => api(path, { query });
export const post = (path, body, query) => api(path, { method: 'POST', body, query });
export const patch = (path, body) => api(path, { method: 'PATCH', body });
export const del = (path, query) => api(path, { method: 'DELETE', query });

/**
 * Upload ONE file as multipart field "files" with XMLHttpRequest (fetch has no upload progress).
 * Resolves to the JSON body ({"results": [...]}); rejects with ApiError. `onProgress(fraction)` while sending;
 * `fields`: extra form fields (e.g. {label: "beer"}), empty values left out. A 503 with Retry-After (busy:
 * nothing was stored) is sent again after that pause, up to RETRIES times.
 */
export function uploadFile(file, { onProgress, url = UPLOAD_URL, field = 'files', fields = {} } = {}) {
  return new Promise((resolve, reject) => {
    const send = (attempt) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', url);
      xhr.setRequestHeader('X-CSRFToken', csrfToken());
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.addEventListener('progress', (event) => {
        if (onProgress && event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
      });
      xhr.addEventListener('load', () => {
        const data = parseJson(xhr.responseText);
        if (xhr.status >= 200 && xhr.status < 300 && data) {
          resolve(data);
          return;
        }
        // Busy (503 + Retry-After: nothing was stored): send the same file again after the pause asked for.
        const delay = retryDelay({ status: xhr.status, headers: { get: (name) => xhr.getResponseHeader(name) } }, attempt);
        if (delay === null) reject(errorFrom(xhr.status, data));
        else window.setTimeout(() => send(attempt + 1), delay * 1000);
      });
      xhr.addEventListener('error', () =>
        reject(new ApiError('Upload failed: the connection to the server was lost.', 0, null)),
      );
      xhr.addEventListener('abort', () => reject(new ApiError('Upload cancelled.', 0, null)));
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) if (value) form.append(name, value);
      form.append(field, file, file.name);
      xhr.send(form);
    };
    send(0);
  });
}

const TOAST_LIMIT = 3;

/** Show a short message in the page's #toast live region; kind is "success", "error" or "info". */
export function toast(message, kind = 'success', timeout) {
  const area = document.getElementById('toast');
  if (!area) return;
  const item = document.createElement('div');
  item.className = `toast toast-${kind}`;
  item.dataset.kind = kind;
  const text = document.createElement('span');
  text.className = 'toast-text';
  text.textContent = message;
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = '✕';
  close.setAttribute('aria-label', 'Dismiss message');
  close.addEventListener('click', () => item.remove());
  item.append(text, close);
  // At most one success toast at a time: a newer one replaces the older (errors stay until read or timed out).
  if (kind === 'success') for (const old of area.querySelectorAll(':scope > .toast-success')) old.remove();
  area.append(item);
  while (area.children.length > TOAST_LIMIT) area.firstElementChild.remove();
  const ms = timeout ?? (kind === 'error' ? 9000 : 2500);
  window.setTimeout(() => item.remove(), ms);
}

/** Toast an error thrown by api()/uploadFile() (or anything else) with an optional prefix. */
export function toastError(err, prefix = '') {
  const message = err && err.message ? err.message : String(err);
  toast(prefix ? `${prefix}: ${message}` : message, 'error');
}

/** Tell the page (class-count bar and others) that labels or photos changed. */
export function datasetChanged() {
  document.dispatchEvent(new CustomEvent('dataset-changed'));
}
