// Train page: where the chosen backbone's weights stand, and (admins) uploading the weights file downloaded
// elsewhere. The worker checks an upload by loading it; its status is polled until it ends.

import { get, uploadFile } from './api.js';
import { formatBytes, replaceChildren } from './dom.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const UPLOAD_WORDS = {
  queued: 'Received; waiting for the worker to check it…',
  running: 'The worker is loading the file to check it…',
  succeeded: 'Checked and kept: training uses this file from now on.',
};
let statuses = {};
let select = null;

function current() {
  return statuses[select.value];
}

function showUpload(upload) {
  const box = $('weights-upload-status');
  if (!box) return;
  box.hidden = !upload;
  if (!upload) return;
  const failed = upload.status === 'failed';
  box.className = `small ${failed ? 'error-text' : ''}`;
  box.textContent = failed ? `The uploaded file was not kept: ${upload.error}` : UPLOAD_WORDS[upload.status] || '';
}

function render() {
  const status = current();
  if (!status) return;
  $('weights').dataset.state = status.state;
  $('weights-message').textContent = status.message;
  $('weights-error').hidden = !status.last_error;
  $('weights-error-text').textContent = status.last_error || '';
  const upload = $('weights-upload');
  if (!upload) return;
  // Offered where it helps: before a first download, or after one failed.
  upload.hidden = status.setting !== 'imagenet' || !['download', 'failed'].includes(status.state);
  $('weights-download-url').textContent = status.download_url;
  $('weights-file-name').textContent = status.file;
  $('weights-size').textContent = formatBytes(status.bytes);
  showUpload(status.upload && status.upload.status !== 'succeeded' ? status.upload : null);
}

async function load() {
  try {
    const answer = await get('/api/v1/weights');
    statuses = Object.fromEntries(answer.backbones.map((b) => [b.backbone, b]));
    render();
  } catch (err) {
    $('weights-message').textContent = `Could not read where the weights stand: ${err.message}`;
  }
}

async function follow(upload) {
  let now = upload;
  while (now.status === 'queued' || now.status === 'running') {
    showUpload(now);
    await new Promise((resolve) => { window.setTimeout(resolve, POLL_MS); });
    try {
      now = await get(now.url);
    } catch { /* the next poll tries again */ }
  }
  await load();
  showUpload(now);
}

async function send(file) {
  const button = $('weights-upload-button');
  button.disabled = true;
  const box = $('weights-upload-status');
  box.hidden = false;
  box.className = 'small';
  box.textContent = `Uploading ${file.name}…`;
  try {
    const upload = await uploadFile(file, {
      url: '/api/v1/weights', field: 'file', fields: { backbone: select.value },
      onProgress: (f) => { box.textContent = `Uploading ${file.name}… ${Math.round(f * 100)}%`; },
    });
    await follow(upload);
  } catch (err) {
    box.className = 'small error-text';
    replaceChildren(box, `Not uploaded: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

/** Show the weights of the backbone chosen in backboneSelect, and wire the upload button. */
export function initWeights(backboneSelect) {
  select = backboneSelect;
  select.addEventListener('change', render);
  const input = $('weights-file');
  if (input) {
    $('weights-upload-button').addEventListener('click', () => input.click());
    input.addEventListener('change', () => {
      const file = input.files[0];
      input.value = '';
      if (file) send(file);
    });
  }
  return load();
}

export { render as renderWeights };
