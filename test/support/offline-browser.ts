/** Headless Debian Chromium for the page tests, and pages that may reach 127.0.0.1 only (the pages must work offline). */
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { resolveChromePath } from '../../session-host/engines/webjs/chromium.js';

export function launchTestBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: resolveChromePath(process.env.CHROME_PATH),
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
}

/** A new page whose requests off 127.0.0.1 (and data: URLs) are refused; `served` and `refused` record each. */
export async function offlinePage(browser: Browser): Promise<{ page: Page; served: string[]; refused: string[] }> {
  const page = await browser.newPage();
  const served: string[] = [];
  const refused: string[] = [];
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol === 'data:' || url.hostname === '127.0.0.1') {
      served.push(url.pathname);
      void request.continue();
    } else {
      refused.push(request.url());
      void request.abort('internetdisconnected');
    }
  });
  return { page, served, refused };
}
