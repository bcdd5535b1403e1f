/** The dashboard's page and script as served: the WebSocket URL it names, escaping, no outside URL, valid script. */
import { describe, expect, it } from 'vitest';
import { dashboardPageHtml, dashboardScript, webSocketUrlFor } from '../../functions/http/dashboard/dashboard-page.js';

describe('webSocketUrlFor', () => {
  it('takes WS_PUBLIC_URL as it is', () => {
    expect(webSocketUrlFor({ host: '127.0.0.1:3000', secure: false }, { WS_PUBLIC_URL: 'wss://ws.example.com/prod' })).toBe('wss://ws.example.com/prod');
  });

  it('locally: the host the page was asked under, the WebSocket port of the management endpoint', () => {
    const env = { WS_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:4001' };
    expect(webSocketUrlFor({ host: 'localhost:4000', secure: false }, env)).toBe('ws://localhost:4001/');
    expect(webSocketUrlFor({ host: '[::1]:4000', secure: false }, env)).toBe('ws://[::1]:4001/');
    expect(webSocketUrlFor({ host: undefined, secure: false }, env)).toBe('ws://127.0.0.1:4001/');
    expect(webSocketUrlFor({ host: 'evil"><script>:1', secure: false }, env)).toBe('ws://127.0.0.1:4001/');
    expect(webSocketUrlFor({ host: '127.0.0.1:3000', secure: false }, {})).toBe('ws://127.0.0.1:3001/');
  });

  it('deployed: the same API Gateway stage as the management endpoint, over wss', () => {
    const env = { WS_MANAGEMENT_ENDPOINT: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod' };
    expect(webSocketUrlFor({ host: 'api.example.com', secure: true }, env)).toBe('wss://abc123.execute-api.eu-west-1.amazonaws.com/prod');
  });
});

describe('the page', () => {
  it('escapes the WebSocket URL and loads nothing from outside', () => {
    const html = dashboardPageHtml('ws://x/"><script>alert(1)</script>');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&#34;&#62;&#60;script&#62;');
    expect(dashboardPageHtml('ws://127.0.0.1:3001/')).not.toMatch(/(?:src|href)="https?:/);
  });

  it('serves a script that parses as a module, uses no innerHTML, and calls nothing outside', async () => {
    expect(dashboardScript).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect(dashboardScript).not.toMatch(/https?:\/\//);
    // A syntax check: compile it as a function body (the module has no imports or exports).
    expect(() => new Function(dashboardScript)).not.toThrow();
  });
});
