/** Opening a `ws` client with a deadline, shared by the tests and the benchmarks. */
import type WebSocket from 'ws';

export class HandshakeRefused extends Error {
  constructor(readonly statusCode: number) {
    super(`WebSocket handshake refused with HTTP ${statusCode}`);
  }
}

/** Resolves once `socket` is open; rejects with HandshakeRefused, the socket's error, or after `timeoutMs`. */
export function whenOpen(socket: WebSocket, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: Error) => {
      clearTimeout(timer);
      socket.off('open', onOpen);
      socket.off('unexpected-response', onRefused);
      socket.off('error', settle);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onOpen = () => settle();
    const onRefused = (_request: unknown, response: { statusCode?: number }) => settle(new HandshakeRefused(response.statusCode ?? 0));
    const timer = setTimeout(() => settle(new Error(`WebSocket did not open within ${timeoutMs} ms`)), timeoutMs);
    socket.once('open', onOpen);
    socket.once('unexpected-response', onRefused);
    socket.once('error', settle);
  });
}
