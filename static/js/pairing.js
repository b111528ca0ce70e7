// Upload page, "Add photos from your phone": on request, a single-use link (POST /api/v1/pairings) shown as a
// QR code (an SVG data: URI in an <img>, so the CSP stays strict) and as text, with its expiry.

import { post } from './api.js';
import { el, replaceChildren } from './dom.js';

const $ = (id) => document.getElementById(id);
const ui = {
  button: $('pair-button'), again: $('pair-again'), result: $('pair-result'), qr: $('pair-qr'),
  url: $('pair-url'), expiry: $('pair-expiry'), hint: $('pair-hint'), error: $('pair-error'),
};
let expiryTimer = null;

function clock(date) {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** Text with `backticked` parts shown as code (the server's hint names a command that way). */
function withCode(text) {
  return String(text).split('`').map((part, i) => (i % 2 ? el('code', { text: part }) : part));
}

function showExpired() {
  ui.result.classList.add('is-expired');
  ui.expiry.textContent = 'This code has expired. Make a new one.';
}

function show(pairing) {
  const expires = new Date(Date.now() + pairing.minutes * 60_000);
  ui.qr.src = pairing.qr_svg;
  ui.url.textContent = pairing.url;
  ui.expiry.textContent = `Works once, for ${pairing.minutes} minutes (until ${clock(expires)}).`;
  ui.hint.hidden = !pairing.hint;
  replaceChildren(ui.hint, withCode(pairing.hint || ''));
  ui.result.classList.remove('is-expired');
  ui.result.hidden = false;
  ui.button.hidden = true;
  window.clearTimeout(expiryTimer);
  expiryTimer = window.setTimeout(showExpired, pairing.minutes * 60_000);
}

async function makeCode(button) {
  button.disabled = true;
  ui.error.hidden = true;
  try {
    show(await post('/api/v1/pairings', {}));
  } catch (err) {
    ui.error.textContent = `No code made: ${err.message}`;
    ui.error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

if (ui.button) {
  ui.button.addEventListener('click', () => makeCode(ui.button));
  ui.again.addEventListener('click', () => makeCode(ui.again));
}
