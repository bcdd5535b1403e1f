/**
 * GET /api/docs in a real browser (Debian's Chromium through Puppeteer) against serverless offline, with every
 * request to anything but 127.0.0.1 refused: the page must render the routes from the service alone (no CDN).
 */
import type { Browser } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/local-stack.js';
import { launchTestBrowser, offlinePage } from '../support/offline-browser.js';

let stack: TestStack;
let browser: Browser | undefined;

beforeAll(async () => {
  stack = await startTestStack({ hosts: 0 });
  browser = await launchTestBrowser();
});

afterAll(async () => {
  // Closes Chromium and waits for its process; then the stack's processes, each by its PID.
  await browser?.close();
  await stack?.stop();
});

describe('the docs page in a browser, offline', () => {
  it('renders every operation from the service alone', async () => {
    const { page, served, refused } = await offlinePage(browser!);
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));

    const response = await page.goto(`${stack.offline.httpUrl}/api/docs`, { waitUntil: 'load', timeout: 60_000 });
    expect(response?.status()).toBe(200);
    await page.waitForSelector('.opblock-summary-path', { timeout: 30_000 });
    const paths = await page.$$eval('.opblock-summary-path', (elements) => elements.map((element) => element.textContent?.replace(/\u200b/g, '').trim() ?? ''));
    const methods = await page.$$eval('.opblock-summary-method', (elements) => elements.map((element) => element.textContent?.trim() ?? ''));
    const title = await page.$eval('.info .title', (element) => element.textContent ?? '');

    expect(title).toContain('whatsapp-service');
    expect(paths).toEqual(
      expect.arrayContaining([
        '/api/sessions',
        '/api/sessions/{sessionId}',
        '/api/sessions/{sessionId}/pairing-code',
        '/api/messages/{sessionId}/send',
        '/api/messages/{sessionId}/chat/{chatId}',
        '/api/messages/{sessionId}/contacts/{contactId}',
        '/api/simulator/sessions/{sessionId}/scan',
        '/api/health',
      ]),
    );
    expect(methods).toEqual(expect.arrayContaining(['GET', 'POST', 'DELETE']));
    // What the page loaded came from the service: the page, Swagger UI's script and style, the document.
    expect(served).toEqual(expect.arrayContaining(['/api/docs', '/api/docs/swagger-ui-bundle.js', '/api/docs/swagger-ui.css', '/api/openapi.json']));
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 120_000);
});
