// Settings page (admins): people who can sign in, and API tokens (made here, shown once, revocable).

import { del, get, post, toast, toastError } from './api.js';
import { confirmDialog, el, formatDate, replaceChildren } from './dom.js';

const $ = (id) => document.getElementById(id);

function userRow(user) {
  const remove = el('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Remove',
    'aria-label': `Remove ${user.name}` });
  remove.addEventListener('click', () => removeUser(user));
  return el('tr', { dataset: { userId: user.id } },
    el('td', { text: user.name }), el('td', { text: user.role }),
    el('td', { text: formatDate(user.created_at) }), el('td', {}, remove));
}

function tokenRow(token) {
  const revoke = el('button', { type: 'button', class: 'btn btn-small btn-danger', text: 'Revoke',
    'aria-label': `Revoke token ${token.label || token.prefix}` });
  revoke.addEventListener('click', () => revokeToken(token));
  return el('tr', { dataset: { tokenId: token.id } },
    el('td', { text: token.label || '—' }), el('td', { text: token.user }),
    el('td', {}, el('code', { text: `${token.prefix}…` })), el('td', { text: formatDate(token.created_at) }),
    el('td', { text: token.last_used_at ? formatDate(token.last_used_at) : 'never' }), el('td', {}, revoke));
}

async function refresh() {
  try {
    const [users, tokens] = await Promise.all([get('/api/v1/users'), get('/api/v1/tokens')]);
    replaceChildren($('users-body'), ...users.map(userRow));
    replaceChildren($('tokens-body'), ...tokens.map(tokenRow));
    $('tokens-empty').hidden = tokens.length > 0;
  } catch (err) {
    toastError(err);
  }
}

async function removeUser(user) {
  const ok = await confirmDialog({ title: `Remove ${user.name}?`, message: 'Their API tokens stop working too.',
    confirmText: 'Remove', danger: true });
  if (!ok) return;
  try {
    await del(`/api/v1/users/${user.id}`);
    toast(`${user.name} removed`);
    refresh();
  } catch (err) {
    toastError(err);
  }
}

async function revokeToken(token) {
  const ok = await confirmDialog({ title: 'Revoke this token?', message: 'Scripts using it stop working at once.',
    confirmText: 'Revoke', danger: true });
  if (!ok) return;
  try {
    await del(`/api/v1/tokens/${token.id}`);
    toast('Token revoked');
    refresh();
  } catch (err) {
    toastError(err);
  }
}

$('add-user-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const user = await post('/api/v1/users', { name: $('new-user-name').value,
      password: $('new-user-password').value, role: $('new-user-role').value });
    toast(`${user.name} can sign in now`);
    $('add-user-form').reset();
    refresh();
  } catch (err) {
    toastError(err);
  }
});

$('new-token-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const made = await post('/api/v1/tokens', { label: $('new-token-label').value });
    $('new-token-value').textContent = made.token;
    $('new-token-result').hidden = false;
    $('new-token-form').reset();
    refresh();
  } catch (err) {
    toastError(err);
  }
});

refresh();
