/**
 * The dashboard's script, served as `/dashboard/app.js`: plain browser JavaScript (an ES module, no framework, no
 * build step), kept here as a string so that the Lambda bundle carries it (serverless-esbuild bundles what is
 * imported, never files read at run time). It talks to the REST API with the key the user typed (kept in
 * sessionStorage, never in the page) and to the WebSocket API at the URL the page names (`<meta name="ws-url">`).
 * Everything that came from the service reaches the DOM as text (textContent, attributes set one by one), never as
 * HTML. Written without backticks or `${`, so that it fits in this String.raw literal unchanged.
 */
export const dashboardScript = String.raw`// whatsapp-service dashboard (served by the service; no CDN, no build step)
const KEY_STORAGE = 'whatsapp-service.dashboard.apiKey';
const MAX_EVENTS = 200;
const wsUrl = (document.querySelector('meta[name="ws-url"]') || {}).content || '';
// The API lives beside the page: '/' and '/dashboard' both mean the root ('' when served at the root).
const apiBase = window.location.pathname.replace(/\/(dashboard\/?)?$/, '') + '/api';

const state = { key: null, sessions: new Map(), selected: null, socket: null, socketAttempt: 0, pollTimer: null, qrFor: null };

function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error('missing #' + id);
  return element;
}

/** An element with attributes (set one by one) and children (nodes, or strings as text nodes). */
function el(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

function show(id, text, kind) {
  const target = byId(id);
  target.textContent = text;
  target.dataset.kind = kind || 'info';
}

class ApiError extends Error {
  constructor(status, body) {
    const error = body && body.error ? body.error : { code: 'HTTP_' + status, message: 'HTTP ' + status };
    super(error.code + ': ' + error.message);
    this.status = status;
    this.code = error.code;
  }
}

async function api(method, path, body, headers) {
  const init = { method, headers: Object.assign({ 'x-api-key': state.key || '' }, headers || {}) };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(apiBase + path, init);
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch (error) {
    parsed = null;
  }
  if (!response.ok) {
    if (response.status === 401) forgetKey('That key was refused (401 UNAUTHORIZED).');
    throw new ApiError(response.status, parsed);
  }
  return parsed;
}

const sessionPath = (id) => '/sessions/' + encodeURIComponent(id);

// ---------------------------------------------------------------------------------------------------------------
// The key

function useKey(key) {
  state.key = key;
  sessionStorage.setItem(KEY_STORAGE, key);
  byId('key-section').hidden = true;
  byId('main').hidden = false;
  byId('key-state').textContent = 'key set for this tab';
  refreshSessions().catch((error) => show('sessions-message', error.message, 'error'));
  connectSocket();
  if (state.pollTimer === null) state.pollTimer = setInterval(() => refreshSessions().catch(() => undefined), 10000);
}

function forgetKey(reason) {
  state.key = null;
  sessionStorage.removeItem(KEY_STORAGE);
  if (state.socket !== null) {
    const socket = state.socket;
    state.socket = null;
    socket.close();
  }
  if (state.pollTimer !== null) {
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }
  byId('main').hidden = true;
  byId('key-section').hidden = false;
  byId('key-state').textContent = 'no key';
  show('key-message', reason || '', reason ? 'error' : 'info');
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions

async function refreshSessions() {
  const sessions = [];
  let cursor = null;
  do {
    const page = await api('GET', '/sessions?limit=500' + (cursor === null ? '' : '&cursor=' + encodeURIComponent(cursor)));
    sessions.push(...page.sessions);
    cursor = page.nextCursor;
  } while (cursor !== null);
  state.sessions = new Map(sessions.map((session) => [session.id, session]));
  renderSessions();
  renderSelected();
}

function renderSessions() {
  const body = byId('sessions-body');
  body.replaceChildren();
  if (state.sessions.size === 0) {
    body.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No sessions yet: create one above.')));
    return;
  }
  for (const session of state.sessions.values()) {
    const row = el(
      'tr',
      { 'data-session-id': session.id, class: session.id === state.selected ? 'selected' : null },
      el('td', { class: 'id' }, session.id),
      el('td', { class: 'engine' }, session.engine),
      el('td', {}, el('span', { class: 'status status-' + session.status }, session.status)),
      el('td', { class: 'me' }, session.me ? session.me.id : ''),
      el('td', { class: 'error' }, session.lastError ? session.lastError.code + ': ' + session.lastError.message : ''),
      el(
        'td',
        { class: 'actions' },
        el('button', { type: 'button', 'data-action': 'open' }, 'Open'),
        el('button', { type: 'button', 'data-action': 'restart' }, 'Restart'),
        el('button', { type: 'button', 'data-action': 'delete', class: 'danger' }, 'Delete'),
      ),
    );
    body.append(row);
  }
}

async function sessionAction(id, action) {
  try {
    if (action === 'open') {
      select(id);
      return;
    }
    if (action === 'restart') {
      const { session } = await api('POST', sessionPath(id) + '/restart', {});
      state.sessions.set(session.id, session);
      show('sessions-message', 'Restarting ' + id + '.');
    }
    if (action === 'delete') {
      if (!window.confirm('Delete session ' + id + '? It is logged out and its data removed.')) return;
      await api('DELETE', sessionPath(id));
      state.sessions.delete(id);
      if (state.selected === id) state.selected = null;
      show('sessions-message', 'Deleted ' + id + '.');
    }
    renderSessions();
    renderSelected();
  } catch (error) {
    show('sessions-message', error.message, 'error');
  }
}

function select(id) {
  state.selected = id;
  state.qrFor = null;
  renderSessions();
  renderSelected();
}

/** The panel of the selected session: its status, its QR while in qr, the pairing form, the test send. */
function renderSelected() {
  const panel = byId('selected');
  const session = state.selected === null ? undefined : state.sessions.get(state.selected);
  if (session === undefined) {
    panel.hidden = true;
    state.qrFor = null;
    return;
  }
  panel.hidden = false;
  byId('selected-id').textContent = session.id;
  const status = byId('selected-status');
  status.textContent = session.status;
  status.className = 'status status-' + session.status;
  byId('selected-me').textContent = session.me ? session.me.id + (session.me.pushName ? ' (' + session.me.pushName + ')' : '') : '';
  byId('qr-block').hidden = session.status !== 'qr';
  byId('send-block').hidden = session.status !== 'connected';
  if (session.status === 'qr') {
    if (state.qrFor !== session.id + '|' + session.updatedAt) loadQr(session.id, session.updatedAt);
  } else {
    state.qrFor = null;
    byId('qr-img').removeAttribute('src');
  }
}

async function loadQr(id, version) {
  state.qrFor = id + '|' + version;
  try {
    const { dataUrl } = await api('GET', sessionPath(id) + '/qr');
    if (state.selected !== id) return;
    if (typeof dataUrl === 'string' && dataUrl.startsWith('data:image/png;base64,')) byId('qr-img').setAttribute('src', dataUrl);
    show('qr-message', 'Scan this with WhatsApp on the phone (Linked devices → Link a device).');
  } catch (error) {
    state.qrFor = null;
    show('qr-message', error.message, 'error');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The live event stream (the WebSocket API, unfiltered: every session's events)

function connectSocket() {
  if (state.key === null || wsUrl === '') return;
  const url = wsUrl + (wsUrl.includes('?') ? '&' : '?') + 'apiKey=' + encodeURIComponent(state.key);
  const socket = new WebSocket(url);
  state.socket = socket;
  byId('ws-state').textContent = 'connecting…';
  socket.addEventListener('open', () => {
    state.socketAttempt = 0;
    byId('ws-state').textContent = 'live';
    byId('ws-state').dataset.kind = 'ok';
  });
  socket.addEventListener('message', (message) => {
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch (error) {
      return;
    }
    onFrame(frame);
  });
  socket.addEventListener('close', () => {
    if (state.socket !== socket) return; // replaced or closed on purpose
    state.socket = null;
    byId('ws-state').textContent = 'disconnected; reconnecting';
    byId('ws-state').dataset.kind = 'error';
    state.socketAttempt += 1;
    const delay = Math.min(1000 * 2 ** Math.min(state.socketAttempt, 5), 30000) * (0.5 + Math.random() / 2);
    setTimeout(connectSocket, delay);
    // Events missed meanwhile: the list is read again on reconnect.
    refreshSessions().catch(() => undefined);
  });
}

function onFrame(frame) {
  if (frame === null || typeof frame !== 'object') return;
  appendEvent(frame);
  if (frame.event === 'connection_update' && typeof frame.sessionId === 'string' && frame.data) {
    const known = state.sessions.get(frame.sessionId);
    if (known === undefined) {
      refreshSessions().catch(() => undefined);
      return;
    }
    const updated = Object.assign({}, known, {
      status: frame.data.status || known.status,
      me: frame.data.me === undefined ? known.me : frame.data.me,
      lastError: frame.data.lastError === undefined ? known.lastError : frame.data.lastError,
      updatedAt: frame.timestamp || known.updatedAt,
    });
    state.sessions.set(frame.sessionId, updated);
    renderSessions();
    if (frame.sessionId === state.selected) {
      // A new QR (or the same status with a pairing code): show the current one.
      if (updated.status === 'qr') state.qrFor = null;
      if (typeof frame.data.pairingCode === 'string') show('pairing-code', frame.data.pairingCode, 'ok');
      renderSelected();
    }
  }
}

function summary(frame) {
  const data = frame.data;
  if (frame.event === 'connection_update' && data) return data.status + (data.pairingCode ? ' (pairing code ' + data.pairingCode + ')' : '');
  if (frame.event === 'message' && data) return (data.from || '') + ': ' + (data.body || '(' + (data.type || 'message') + ')');
  if (frame.event === 'message_ack' && data) return (data.messageId || '') + ' → ' + data.ack;
  if (frame.event === 'message_reaction' && data) return (data.sender && data.sender.id ? data.sender.id : '') + ' ' + (data.emoji || '(reaction removed)');
  if (frame.event === 'message_edited' && data) return (data.messageId || '') + ' edited';
  if (frame.event === 'message_revoked' && data) return (data.messageId || '') + ' deleted for everyone';
  if (frame.event === 'error' && data) return data.code + ': ' + data.message;
  return '';
}

function appendEvent(frame) {
  const list = byId('events');
  const time = typeof frame.timestamp === 'string' ? frame.timestamp.replace(/^.*T/, '').replace(/Z$/, '') : new Date().toISOString().slice(11, 23);
  const details = JSON.stringify(frame);
  const item = el(
    'li',
    { 'data-event': String(frame.event), 'data-session-id': typeof frame.sessionId === 'string' ? frame.sessionId : null },
    el('span', { class: 'time' }, time),
    el('span', { class: 'event' }, String(frame.event)),
    el('span', { class: 'session' }, typeof frame.sessionId === 'string' ? frame.sessionId : ''),
    el('span', { class: 'summary' }, summary(frame)),
    el('details', {}, el('summary', {}, 'frame'), el('pre', {}, details.length > 4000 ? details.slice(0, 4000) + '…' : details)),
  );
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

// ---------------------------------------------------------------------------------------------------------------
// Forms

function onSubmit(id, handler) {
  byId(id).addEventListener('submit', (event) => {
    event.preventDefault();
    handler(event.target).catch((error) => console.error(error));
  });
}

onSubmit('key-form', async () => {
  const key = byId('key-input').value.trim();
  if (key === '') return;
  state.key = key;
  try {
    await api('GET', '/sessions?limit=1');
  } catch (error) {
    if (state.key !== null) show('key-message', error.message, 'error');
    return;
  }
  byId('key-input').value = '';
  show('key-message', '');
  useKey(key);
});

byId('forget-key').addEventListener('click', () => forgetKey(''));

onSubmit('create-form', async () => {
  const id = byId('create-id').value.trim();
  try {
    const { session } = await api('POST', '/sessions', id === '' ? {} : { sessionId: id });
    state.sessions.set(session.id, session);
    byId('create-id').value = '';
    show('sessions-message', 'Created ' + session.id + '.', 'ok');
    select(session.id);
  } catch (error) {
    show('sessions-message', error.message, 'error');
  }
});

byId('sessions-body').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  const row = event.target.closest('tr[data-session-id]');
  if (button === null || row === null) return;
  sessionAction(row.dataset.sessionId, button.dataset.action);
});

byId('refresh').addEventListener('click', () => refreshSessions().catch((error) => show('sessions-message', error.message, 'error')));
byId('close-selected').addEventListener('click', () => select(null));
byId('clear-events').addEventListener('click', () => byId('events').replaceChildren());

onSubmit('pairing-form', async () => {
  const id = state.selected;
  if (id === null) return;
  show('pairing-code', 'asking…');
  try {
    const { code } = await api('POST', sessionPath(id) + '/pairing-code', { phone: byId('pairing-phone').value.trim() });
    show('pairing-code', code, 'ok');
  } catch (error) {
    show('pairing-code', error.message, 'error');
  }
});

onSubmit('send-form', async () => {
  const id = state.selected;
  if (id === null) return;
  show('send-result', 'sending…');
  try {
    const key = 'dashboard-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
    const { message } = await api(
      'POST',
      '/messages/' + encodeURIComponent(id) + '/send',
      { chatId: byId('send-chat').value.trim(), text: byId('send-text').value },
      { 'idempotency-key': key },
    );
    show('send-result', 'Sent ' + message.id + ' to ' + message.chatId + ' (' + message.ack + ').', 'ok');
  } catch (error) {
    show('send-result', error.message, 'error');
  }
});

const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved !== null && saved !== '') useKey(saved);
else forgetKey('');
`;
