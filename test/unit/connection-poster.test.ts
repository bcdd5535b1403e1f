/**
 * The AWS SDK signs every PostToConnection and needs credentials to do so. serverless offline checks none, so the
 * poster supplies a dummy pair for it: on loopback, in stage `local`, or when WS_MANAGEMENT_LOCAL=true says so (a
 * container reaching serverless offline by a service name, such as http://offline:3001 in docker-compose.yml).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectionPoster, isLocalManagementEndpoint } from '../../lib/connection-poster.js';

describe('connection poster credentials', () => {
  let server: Server;
  let port = 0;
  const received: string[] = [];
  const saved = { ...process.env };

  beforeAll(async () => {
    // No credentials anywhere: not in the environment, no files, no instance metadata.
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete process.env[name];
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
    process.env.AWS_CONFIG_FILE = '/nonexistent/config';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    server = createServer((request, response) => {
      received.push(`${request.method} ${request.url}`);
      request.resume();
      response.writeHead(200).end();
    });
    // 0.0.0.0: reachable as 127.0.0.2 too, an address the poster does not take for loopback by its name.
    server.listen(0, '0.0.0.0');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.close();
    process.env = saved;
  });

  it('tells a local endpoint by its address, the stage, or WS_MANAGEMENT_LOCAL', () => {
    expect(isLocalManagementEndpoint('http://127.0.0.1:3001', {})).toBe(true);
    expect(isLocalManagementEndpoint('http://localhost:3001/', {})).toBe(true);
    expect(isLocalManagementEndpoint('http://offline:3001', {})).toBe(false);
    expect(isLocalManagementEndpoint('http://offline:3001', { WS_MANAGEMENT_LOCAL: 'true' })).toBe(true);
    expect(isLocalManagementEndpoint('http://offline:3001', { STAGE: 'local' })).toBe(true);
    expect(isLocalManagementEndpoint('https://abc.execute-api.eu-west-1.amazonaws.com/prod', { STAGE: 'prod' })).toBe(false);
    expect(isLocalManagementEndpoint('http://localhost.example.com', {})).toBe(false);
  });

  it('posts to serverless offline under another name when told it is local', async () => {
    const poster = createConnectionPoster(`http://127.0.0.2:${port}`, 'eu-west-1', { WS_MANAGEMENT_LOCAL: 'true' });
    try {
      expect(await poster.post('conn-1', '{"event":"pong"}')).toBe('sent');
      expect(received).toContain('POST /@connections/conn-1');
    } finally {
      poster.close();
    }
  });

  it('does not invent credentials for an endpoint it must treat as AWS', async () => {
    const before = received.length;
    const poster = createConnectionPoster(`http://127.0.0.2:${port}`, 'eu-west-1', {});
    try {
      expect(await poster.post('conn-2', '{}')).toBe('failed');
      expect(received.length).toBe(before); // refused before sending: no credentials
    } finally {
      poster.close();
    }
  });
});
