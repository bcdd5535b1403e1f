/** A WebSocket test client that records every frame it receives and can wait for the ones it expects. */
import WebSocket from 'ws';
import { whenOpen } from '../../scripts/support/websocket.js';

export { HandshakeRefused } from '../../scripts/support/websocket.js';

export interface ReceivedFrame {
  event: string;
  id?: string;
  sessionId?: string;
  data?: unknown;
  [key: string]: unknown;
}

export interface TestWebSocket {
  frames: ReceivedFrame[];
  send(frame: unknown): void;
  /** Resolves with the first frame (from `fromIndex` on) that matches, or fails after `timeoutMs`. */
  waitFor(match: (frame: ReceivedFrame) => boolean, timeoutMs?: number, fromIndex?: number): Promise<ReceivedFrame>;
  close(): Promise<void>;
  /** Drops the TCP connection without a close handshake. */
  terminate(): void;
}

export async function connectWebSocket(url: string, headers: Record<string, string> = {}): Promise<TestWebSocket> {
  const socket = new WebSocket(url, { headers });
  const frames: ReceivedFrame[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as ReceivedFrame);
    for (const waiter of waiters) waiter();
  });
  await whenOpen(socket, 30_000);
  return {
    frames,
    send: (frame) => socket.send(JSON.stringify(frame)),
    waitFor(match, timeoutMs = 10_000, fromIndex = 0) {
      return new Promise<ReceivedFrame>((resolve, reject) => {
        const check = () => {
          const found = frames.slice(fromIndex).find(match);
          if (found === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.slice(-10))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.terminate();
          resolve();
        }, 5_000);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.close();
      });
    },
    terminate: () => socket.terminate(),
  };
}
