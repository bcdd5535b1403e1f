/** The media fetch by URL against servers of the test's own on 127.0.0.1: the guard per hop, the cap, the deadline. */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceError } from '../../contract/errors.js';
import { fetchMedia, filenameFromDisposition, type MediaFetchOptions, mediaFetchOptionsFromEnv } from '../../lib/media-fetch.js';

const payload = randomBytes(50_000);
let server: http.Server;
let raw: net.Server;
let base = '';
let rawBase = '';
const rawSockets = new Set<net.Socket>();

beforeAll(async () => {
  server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    const to = url.searchParams.get('to');
    switch (url.pathname) {
      case '/files/report%202026.pdf':
        response.writeHead(200, { 'content-type': 'application/PDF; charset=binary', 'content-length': payload.byteLength });
        response.end(payload);
        return;
      case '/download':
        response.writeHead(200, {
          'content-type': 'image/jpeg',
          'content-disposition': `attachment; filename="plain.jpg"; filename*=UTF-8''%C3%A9t%C3%A9.jpg`,
        });
        response.end(payload);
        return;
      case '/redirect':
        response.writeHead(302, { location: to ?? '/' });
        response.end();
        return;
      case '/chain': {
        // /chain?n=3 redirects n times (relative Locations) before the file.
        const n = Number(url.searchParams.get('n') ?? '0');
        response.writeHead(n > 0 ? 301 : 200, n > 0 ? { location: `/chain?n=${n - 1}` } : { 'content-type': 'text/plain' });
        response.end(n > 0 ? undefined : 'end of chain');
        return;
      }
      case '/big-declared':
        response.writeHead(200, { 'content-type': 'video/mp4', 'content-length': 2_000 });
        response.end(randomBytes(2_000));
        return;
      case '/big-chunked':
        // No Content-Length: chunks until well past the cap.
        response.writeHead(200, { 'content-type': 'video/mp4' });
        for (let i = 0; i < 10; i += 1) response.write(randomBytes(500));
        response.end();
        return;
      case '/stall-body':
        response.writeHead(200, { 'content-type': 'image/png' });
        response.write(randomBytes(100)); // and never ends
        return;
      case '/stall-headers':
        return; // never answers
      case '/missing':
        response.writeHead(404);
        response.end('no');
        return;
      default:
        response.writeHead(500);
        response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // A server that closes the connection to end its body (HTTP/1.0 style): no Content-Length, no chunks.
  raw = net.createServer((socket) => {
    rawSockets.add(socket);
    socket.on('close', () => rawSockets.delete(socket));
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\nconnection: close\r\n\r\n');
      socket.end(randomBytes(3_000));
    });
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  rawBase = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  for (const socket of rawSockets) socket.destroy();
  await Promise.all([
    new Promise<void>((resolve) => server.close(() => resolve())),
    new Promise<void>((resolve) => raw.close(() => resolve())),
  ]);
});

/** Private addresses allowed for the test's own servers only: every other hop is checked as in production. */
const onlyOurServers = (): MediaFetchOptions['allowPrivate'] => {
  const own = new Set([new URL(base).host, new URL(rawBase).host]);
  return (url: URL) => own.has(url.host);
};

async function refusal(promise: Promise<unknown>): Promise<ServiceError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ServiceError);
  return error as ServiceError;
}

describe('fetchMedia: what it fetches', () => {
  it('answers the bytes, the media type and the filename from the URL path', async () => {
    const media = await fetchMedia(`${base}/files/report%202026.pdf`, { allowPrivate: onlyOurServers() });
    expect(media.bytes.equals(payload)).toBe(true);
    expect(media.contentType).toBe('application/pdf');
    expect(media.filename).toBe('report 2026.pdf');
  });

  it('prefers the UTF-8 filename of Content-Disposition', async () => {
    const media = await fetchMedia(`${base}/download`, { allowPrivate: onlyOurServers() });
    expect(media.filename).toBe('été.jpg');
    expect(media.contentType).toBe('image/jpeg');
    expect(filenameFromDisposition('inline; filename="a \\"b\\".txt"')).toBe('a "b".txt');
    expect(filenameFromDisposition('attachment; filename=../../x.sh')).toBe('x.sh');
    expect(filenameFromDisposition('attachment')).toBeNull();
  });

  it('follows up to 3 redirects, and refuses a 4th', async () => {
    const media = await fetchMedia(`${base}/chain?n=3`, { allowPrivate: onlyOurServers() });
    expect(media.bytes.toString()).toBe('end of chain');
    expect(media.filename).toBe('chain');
    const error = await refusal(fetchMedia(`${base}/chain?n=4`, { allowPrivate: onlyOurServers() }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toMatchObject({ reason: 'redirects', fields: [{ path: 'media.url' }] });
  });

  it('reports an error status of the server as a fault of the URL', async () => {
    const error = await refusal(fetchMedia(`${base}/missing`, { allowPrivate: onlyOurServers() }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toMatchObject({ reason: 'status', status: 404 });
  });

  it('reports a connection refused', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await refusal(fetchMedia(`http://127.0.0.1:${port}/x`, { allowPrivate: true }));
    expect(error.details).toMatchObject({ reason: 'connection' });
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('reads MEDIA_MAX_BYTES, MEDIA_FETCH_TIMEOUT_MS and MEDIA_FETCH_ALLOW_PRIVATE', () => {
    expect(mediaFetchOptionsFromEnv({})).toEqual({ maxBytes: 16 * 1024 * 1024, timeoutMs: 30_000, allowPrivate: false });
    expect(
      mediaFetchOptionsFromEnv({ MEDIA_MAX_BYTES: '1000', MEDIA_FETCH_TIMEOUT_MS: '500', MEDIA_FETCH_ALLOW_PRIVATE: 'true' }),
    ).toEqual({ maxBytes: 1000, timeoutMs: 500, allowPrivate: true });
  });
});

describe('fetchMedia: what it refuses', () => {
  it.each([
    ['http://127.0.0.1/', 'protocol'],
    ['https://127.0.0.1/', 'address'],
    ['http://169.254.169.254/latest/meta-data/', 'protocol'],
    ['https://169.254.169.254/latest/meta-data/', 'address'],
    ['https://[::1]/', 'address'],
    ['https://[::ffff:10.0.0.1]/', 'address'],
    ['ftp://example.com/x', 'protocol'],
    ['https://user:pw@example.com/x', 'invalid'],
    ['not a url', 'invalid'],
  ])('refuses %s (%s) without allowPrivate', async (url, reason) => {
    const error = await refusal(fetchMedia(url));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toMatchObject({ reason, fields: [{ path: 'media.url' }] });
  });

  it('refuses a name that resolves to a private address (checked after resolution)', async () => {
    const resolve = async (host: string) =>
      host === 'media.example.com' ? [{ address: '10.1.2.3', family: 4 }] : [{ address: '93.184.215.14', family: 4 }];
    const error = await refusal(fetchMedia('https://media.example.com/cat.jpg', { resolve }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toMatchObject({ reason: 'address' });
    expect(error.message).toContain('10.1.2.3');

    // One private address among public ones is refused too.
    const mixed = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '192.168.1.1', family: 4 },
    ];
    expect((await refusal(fetchMedia('https://cdn.example.com/x', { resolve: mixed }))).details).toMatchObject({ reason: 'address' });
  });

  it('refuses a redirect from an allowed server to a private address, whatever its form', async () => {
    const resolve = async () => [{ address: '10.0.0.1', family: 4 }];
    for (const target of ['https://10.0.0.1/secret', 'http://10.0.0.1/secret', 'https://internal.example.com/', 'https://169.254.169.254/']) {
      const error = await refusal(
        fetchMedia(`${base}/redirect?to=${encodeURIComponent(target)}`, { allowPrivate: onlyOurServers(), resolve }),
      );
      expect(error.code, target).toBe('VALIDATION_FAILED');
      expect(error.details, target).toMatchObject({ redirect: 1, fields: [{ path: 'media.url' }] });
      expect(['address', 'protocol'], target).toContain((error.details as { reason: string }).reason);
    }
    // https to a private address is refused for its address, not for its scheme.
    const error = await refusal(
      fetchMedia(`${base}/redirect?to=${encodeURIComponent('https://10.0.0.1/secret')}`, { allowPrivate: onlyOurServers() }),
    );
    expect(error.details).toMatchObject({ reason: 'address' });
    expect(error.message).toContain('10.0.0.1');
  });

  it('refuses an over-size body announced by Content-Length, before reading it', async () => {
    const error = await refusal(fetchMedia(`${base}/big-declared`, { allowPrivate: onlyOurServers(), maxBytes: 1_000 }));
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.details).toMatchObject({ reason: 'too-large', maxBytes: 1_000, fields: [{ path: 'media.url' }] });
  });

  it('refuses an over-size body without Content-Length (chunked, or ended by closing)', async () => {
    for (const url of [`${base}/big-chunked`, `${rawBase}/any`]) {
      const error = await refusal(fetchMedia(url, { allowPrivate: onlyOurServers(), maxBytes: 1_000 }));
      expect(error.code, url).toBe('PAYLOAD_TOO_LARGE');
      expect(error.details, url).toMatchObject({ reason: 'too-large' });
    }
    // The same bodies under a cap they fit in.
    expect((await fetchMedia(`${rawBase}/any`, { allowPrivate: onlyOurServers(), maxBytes: 3_000 })).bytes).toHaveLength(3_000);
    expect((await fetchMedia(`${base}/big-chunked`, { allowPrivate: onlyOurServers(), maxBytes: 5_000 })).bytes).toHaveLength(5_000);
  });

  it('times out a server that stalls, before its headers or in its body', async () => {
    for (const path of ['/stall-headers', '/stall-body']) {
      const error = await refusal(fetchMedia(`${base}${path}`, { allowPrivate: onlyOurServers(), timeoutMs: 300 }));
      expect(error.code, path).toBe('TIMEOUT');
      expect(error.details, path).toMatchObject({ reason: 'timeout', timeoutMs: 300, fields: [{ path: 'media.url' }] });
    }
  });
});
