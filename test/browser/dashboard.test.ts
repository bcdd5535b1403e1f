/**
 * The dashboard (GET /) in a real browser (Debian's Chromium through Puppeteer) against serverless offline and a
 * session host on the simulator, with every request to anything but 127.0.0.1 refused: enter the key, create a
 * session, see its QR, scan it (the simulator route, as the phone), see `connected` without a reload, send a message
 * from the page, and see the event it raises in the page's live event stream.
 */
import type { Browser, Page } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../contract/api.js';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { launchTestBrowser, offlinePage as offlineBrowserPage } from '../support/offline-browser.js';

let stack: TestStack;
let browser: Browser | undefined;

const alicePhone = '15550100001';
const bobPhone = '15550100002';

beforeAll(async () => {
  stack = await startTestStack({ hosts: 1 });
  browser = await launchTestBrowser();
});

afterAll(async () => {
  // Closes Chromium and waits for its process; then the stack's processes, each by its PID.
  await browser?.close();
  await stack?.stop();
});

/** A page that may reach 127.0.0.1 only, recording what it loaded, what was refused and its script errors. */
async function offlinePage(): Promise<{ page: Page; refused: string[]; served: string[]; pageErrors: string[] }> {
  const opened = await offlineBrowserPage(browser!);
  const pageErrors: string[] = [];
  opened.page.on('pageerror', (error) => pageErrors.push(String(error)));
  return { ...opened, pageErrors };
}

describe('the dashboard in a browser, offline', () => {
  it('logs a session in by scan, shows it connected live, sends from the page and shows the event', async () => {
    // The recipient: a second session, linked through the REST API.
    expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId: 'bob' } })).status).toBe(201);
    await stack.api.request('GET', '/api/sessions/bob'); // created; the QR comes shortly
    await waitForStatus('bob', 'qr');
    expect((await stack.api.request('POST', '/api/simulator/sessions/bob/scan', { body: { phone: bobPhone } })).status).toBe(202);
    await waitForStatus('bob', 'connected');

    const { page, refused, served, pageErrors } = await offlinePage();
    const response = await page.goto(`${stack.offline.httpUrl}/`, { waitUntil: 'load', timeout: 60_000 });
    expect(response?.status()).toBe(200);
    // The page names the WebSocket API of this stack (derived from WS_MANAGEMENT_ENDPOINT's port and the host).
    const wsUrl = await page.$eval('meta[name="ws-url"]', (element) => element.getAttribute('content'));
    expect(wsUrl).toBe(`${stack.offline.websocketUrl}/`);

    // The key: asked for, then kept in the tab's sessionStorage.
    await page.waitForSelector('#key-input', { visible: true });
    expect(await page.$eval('#main', (element) => getComputedStyle(element).display)).toBe('none');
    await page.type('#key-input', stack.apiKey);
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('#main', { visible: true, timeout: 30_000 });
    expect(await page.evaluate(() => sessionStorage.getItem('whatsapp-service.dashboard.apiKey'))).toBe(stack.apiKey);
    await page.waitForFunction(() => document.getElementById('ws-state')?.textContent === 'live', { timeout: 30_000 });
    await page.waitForSelector('tr[data-session-id="bob"]', { timeout: 30_000 });
    // A mark that a reload would wipe out.
    await page.evaluate(() => {
      (window as unknown as { dashboardTestMark: number }).dashboardTestMark = 42;
    });

    // Create alice from the page; her QR appears.
    await page.type('#create-id', 'alice');
    await page.click('#create-form button[type="submit"]');
    await page.waitForSelector('tr[data-session-id="alice"]', { timeout: 30_000 });
    await page.waitForFunction(() => document.getElementById('qr-img')?.getAttribute('src')?.startsWith('data:image/png;base64,') === true, {
      timeout: 30_000,
    });
    expect(await page.$eval('#selected-status', (element) => element.textContent)).toBe('qr');

    // The phone scans it; the page shows `connected` by itself.
    expect((await stack.api.request('POST', '/api/simulator/sessions/alice/scan', { body: { phone: alicePhone } })).status).toBe(202);
    await page.waitForFunction(
      () => document.querySelector('tr[data-session-id="alice"] .status')?.textContent === 'connected',
      { timeout: 30_000 },
    );
    await page.waitForSelector('#send-block', { visible: true, timeout: 30_000 });
    expect(await page.$eval('#qr-block', (element) => (element as HTMLElement).hidden)).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { dashboardTestMark?: number }).dashboardTestMark)).toBe(42);
    expect(await page.$$eval('#events li[data-event="connection_update"][data-session-id="alice"] .summary', (items) => items.map((item) => item.textContent))).toEqual(
      expect.arrayContaining(['qr', 'connected']),
    );

    // A test send from the page to bob's number; bob's `message` event shows up in the stream.
    const text = 'hello <b>bob</b> from the dashboard';
    await page.type('#send-chat', `+${bobPhone}`);
    await page.type('#send-text', text);
    await page.click('#send-form button[type="submit"]');
    await page.waitForFunction(() => /^Sent /.test(document.getElementById('send-result')?.textContent ?? ''), { timeout: 30_000 });
    await page.waitForFunction(
      (expected) =>
        Array.from(document.querySelectorAll('#events li[data-event="message"][data-session-id="bob"] .summary')).some((item) =>
          (item.textContent ?? '').endsWith(expected),
        ),
      { timeout: 30_000 },
      text,
    );
    // Text from the service is text in the page, never markup.
    expect(await page.$$eval('#events b', (elements) => elements.length)).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { dashboardTestMark?: number }).dashboardTestMark)).toBe(42);

    // Everything came from the service.
    expect(served).toEqual(expect.arrayContaining(['/', '/dashboard/app.js', '/api/sessions', '/api/sessions/alice/qr', '/api/messages/alice/send']));
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 180_000);

  it('serves the same page at /dashboard: refuses a wrong key, keeps the right one across a reload, deletes', async () => {
    expect((await stack.api.request('POST', '/api/sessions', { body: { sessionId: 'carol' } })).status).toBe(201);
    const { page, refused, pageErrors } = await offlinePage();
    await page.goto(`${stack.offline.httpUrl}/dashboard`, { waitUntil: 'load', timeout: 60_000 });
    await page.type('#key-input', 'not-the-key');
    await page.click('#key-form button[type="submit"]');
    await page.waitForFunction(() => /UNAUTHORIZED/.test(document.getElementById('key-message')?.textContent ?? ''), { timeout: 30_000 });
    expect(await page.$eval('#main', (element) => (element as HTMLElement).hidden)).toBe(true);

    await page.$eval('#key-input', (element) => {
      (element as HTMLInputElement).value = '';
    });
    await page.type('#key-input', stack.apiKey);
    await page.click('#key-form button[type="submit"]');
    await page.waitForSelector('tr[data-session-id="carol"]', { timeout: 30_000 });
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('tr[data-session-id="carol"]', { timeout: 30_000 });
    expect(await page.$eval('#main', (element) => (element as HTMLElement).hidden)).toBe(false);

    // Delete from the page (its confirm dialog accepted).
    page.on('dialog', (dialog) => void dialog.accept());
    await page.click('tr[data-session-id="carol"] button[data-action="delete"]');
    await page.waitForFunction(() => document.querySelector('tr[data-session-id="carol"]') === null, { timeout: 30_000 });
    expect((await stack.api.request('GET', '/api/sessions/carol')).status).toBe(404);
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);
});

async function waitForStatus(sessionId: string, status: Session['status']): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await stack.api.request<{ session: Session }>('GET', `/api/sessions/${sessionId}`);
    if (response.status === 200 && response.body.session.status === status) return;
    if (Date.now() > deadline) throw new Error(`session ${sessionId} never reached ${status} (last: ${response.text})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
