/**
 * `GET /` and `GET /dashboard`: a page to look at the service rather than read it. It needs no key to load; it asks
 * for one and keeps it in the tab's sessionStorage. Plain HTML and a small script (dashboard-script.ts, served as
 * `/dashboard/app.js`): no CDN, no build step, works with no network but the service's.
 */
export { dashboardScript } from './dashboard-script.js';

/**
 * Where the browser opens the WebSocket API. `WS_PUBLIC_URL` when set (`wss://…/prod`, or whatever a proxy exposes);
 * else derived from `WS_MANAGEMENT_ENDPOINT` (the same API Gateway stage, `https:` → `wss:`), and when that is
 * loopback (the local twin), from the host name the page was asked under and the management endpoint's port (the
 * WebSocket port of serverless offline, `WS_PORT`), so that a page opened as http://localhost:3000/ connects to
 * ws://localhost:3001/.
 */
export function webSocketUrlFor(request: { host: string | undefined; secure: boolean }, env: Record<string, string | undefined> = process.env): string {
  const configured = env.WS_PUBLIC_URL?.trim();
  if (configured !== undefined && configured !== '') return configured;
  let management: URL;
  try {
    management = new URL(env.WS_MANAGEMENT_ENDPOINT ?? 'http://127.0.0.1:3001');
  } catch {
    management = new URL('http://127.0.0.1:3001');
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0'].includes(management.hostname);
  if (loopback) {
    const port = management.port === '' ? '3001' : management.port;
    return `${request.secure ? 'wss:' : 'ws:'}//${hostNameOf(request.host) ?? management.hostname}:${port}/`;
  }
  const path = management.pathname.replace(/\/$/, '');
  return `${management.protocol === 'http:' ? 'ws:' : 'wss:'}//${management.host}${path}`;
}

/** The host name of a Host header (`127.0.0.1:3000` → `127.0.0.1`, `[::1]:3000` → `[::1]`), if it is one. */
function hostNameOf(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/.exec(host.trim());
  return match?.[1];
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

const style = `
  :root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f23; background: #f6f7f9; }
  body { margin: 0; }
  [hidden] { display: none !important; }
  header { display: flex; align-items: center; gap: 1rem; padding: .6rem 1.2rem; background: #075e54; color: #fff; }
  header h1 { font-size: 1.1rem; margin: 0; flex: 1; }
  header .pill { font-size: .8rem; background: rgba(255,255,255,.15); padding: .15rem .5rem; border-radius: 1rem; }
  header a { color: #fff; font-size: .85rem; }
  main, #key-section { padding: 1rem 1.2rem; display: grid; gap: 1rem; max-width: 1200px; }
  section { background: #fff; border: 1px solid #dde1e6; border-radius: .5rem; padding: .8rem 1rem; }
  h2 { font-size: 1rem; margin: 0 0 .6rem; }
  form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
  input { padding: .35rem .5rem; border: 1px solid #c4c9cf; border-radius: .3rem; min-width: 14rem; }
  button { padding: .35rem .7rem; border: 1px solid #075e54; background: #128c7e; color: #fff; border-radius: .3rem; cursor: pointer; }
  button.danger { background: #fff; color: #b3261e; border-color: #b3261e; }
  button.plain { background: #fff; color: #075e54; }
  table { border-collapse: collapse; width: 100%; font-size: .9rem; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #eceff2; vertical-align: top; }
  tr.selected { background: #e7f5f2; }
  td.actions { white-space: nowrap; display: flex; gap: .3rem; }
  td.error { color: #8a4b00; font-size: .8rem; max-width: 22rem; }
  .status { font-weight: 600; padding: .05rem .45rem; border-radius: .8rem; background: #eceff2; }
  .status-connected { background: #d5f5e3; color: #11643a; }
  .status-qr, .status-authenticated, .status-starting { background: #fff4d1; color: #7a5a00; }
  .status-disconnected, .status-failed { background: #fde2e0; color: #8c1d18; }
  [data-kind="error"] { color: #b3261e; }
  [data-kind="ok"] { color: #11643a; }
  .muted { color: #6a737d; }
  #selected .grid { display: grid; grid-template-columns: minmax(260px, 340px) 1fr; gap: 1rem; }
  #qr-img { width: 300px; height: 300px; image-rendering: pixelated; border: 1px solid #eceff2; }
  #pairing-code { font-family: ui-monospace, monospace; font-size: 1.3rem; letter-spacing: .1rem; }
  #events { list-style: none; margin: 0; padding: 0; font-family: ui-monospace, monospace; font-size: .8rem; max-height: 28rem; overflow: auto; }
  #events li { display: grid; grid-template-columns: 7.5rem 9rem 10rem 1fr; gap: .5rem; padding: .2rem 0; border-bottom: 1px solid #f0f2f4; }
  #events li details { grid-column: 1 / -1; }
  #events pre { white-space: pre-wrap; word-break: break-all; margin: .2rem 0; }
  .event { font-weight: 600; }
`;

/** The page; `webSocketUrl` is written into it escaped (it comes from configuration and the Host header). */
export function dashboardPageHtml(webSocketUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="ws-url" content="${escapeHtml(webSocketUrl)}">
  <title>whatsapp-service dashboard</title>
  <link rel="icon" href="data:,">
  <style>${style}</style>
</head>
<body>
  <header>
    <h1>whatsapp-service</h1>
    <span class="pill">key: <span id="key-state">no key</span></span>
    <span class="pill">events: <span id="ws-state">not connected</span></span>
    <a href="api/docs">API docs</a>
    <button type="button" id="forget-key" class="plain">Forget key</button>
  </header>

  <div id="key-section">
    <section>
      <h2>API key</h2>
      <form id="key-form" autocomplete="off">
        <input id="key-input" type="password" placeholder="x-api-key (npm start prints it; .local/dev-api-key)" aria-label="API key" required>
        <button type="submit">Use key</button>
        <span id="key-message"></span>
      </form>
      <p class="muted">Kept in this tab's session storage only; closing the tab forgets it.</p>
    </section>
  </div>

  <main id="main" hidden>
    <section>
      <h2>Sessions</h2>
      <form id="create-form" autocomplete="off">
        <input id="create-id" placeholder="session id (empty: generated)" aria-label="New session id" pattern="[A-Za-z0-9_-]{1,64}">
        <button type="submit">Create session</button>
        <button type="button" id="refresh" class="plain">Refresh</button>
        <span id="sessions-message"></span>
      </form>
      <table>
        <thead><tr><th>id</th><th>engine</th><th>status</th><th>account</th><th>last error</th><th></th></tr></thead>
        <tbody id="sessions-body"></tbody>
      </table>
    </section>

    <section id="selected" hidden>
      <h2>Session <span id="selected-id"></span>: <span id="selected-status" class="status"></span> <span id="selected-me" class="muted"></span>
        <button type="button" id="close-selected" class="plain">Close</button></h2>
      <div class="grid">
        <div id="qr-block" hidden>
          <img id="qr-img" alt="QR code to scan">
          <p id="qr-message" class="muted"></p>
          <form id="pairing-form" autocomplete="off">
            <input id="pairing-phone" placeholder="or link by phone number: +1 555 010 0009" aria-label="Phone number for a pairing code" required>
            <button type="submit">Get pairing code</button>
          </form>
          <p>Pairing code: <span id="pairing-code"></span></p>
        </div>
        <div id="send-block" hidden>
          <h2>Test send</h2>
          <form id="send-form" autocomplete="off">
            <input id="send-chat" placeholder="chatId or phone number" aria-label="Chat id" required>
            <input id="send-text" placeholder="text" aria-label="Text" required>
            <button type="submit">Send</button>
          </form>
          <p id="send-result"></p>
        </div>
      </div>
    </section>

    <section>
      <h2>Live events <button type="button" id="clear-events" class="plain">Clear</button></h2>
      <ol id="events"></ol>
    </section>
  </main>
  <script type="module" src="dashboard/app.js"></script>
</body>
</html>
`;
}
