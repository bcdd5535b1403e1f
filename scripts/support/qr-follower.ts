/**
 * Follows the local stack's WebSocket API, unfiltered, and shows each new QR of a session in `qr` (and each pairing
 * code), so that a `webjs` session can be linked from the terminal that runs `npm start`. On (re)connect it also
 * reads the sessions already in `qr` through the REST API. Reconnects with capped backoff until closed.
 */
import QRCode from 'qrcode';
import WebSocket from 'ws';

export interface QrFollowerOptions {
  httpUrl: string;
  websocketUrl: string;
  apiKey: string;
  /** A new QR (`qr`) or pairing code (`pairingCode`) of a session. */
  onQr(sessionId: string, qr: string): void;
  onPairingCode(sessionId: string, code: string): void;
  onProblem?(message: string): void;
}

interface ConnectionUpdate {
  event?: string;
  sessionId?: string;
  data?: { status?: string; qr?: string | null; pairingCode?: string } | null;
}

export function followQrCodes(options: QrFollowerOptions): { close(): void } {
  const shown = new Map<string, string>();
  let socket: WebSocket | undefined;
  let closed = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;

  const show = (sessionId: string, status: string | undefined, qr: string | null | undefined, pairingCode?: string) => {
    if (status !== 'qr') {
      shown.delete(sessionId);
      return;
    }
    if (pairingCode !== undefined && pairingCode !== '') options.onPairingCode(sessionId, pairingCode);
    else if (typeof qr === 'string' && qr !== '' && shown.get(sessionId) !== qr) {
      shown.set(sessionId, qr);
      options.onQr(sessionId, qr);
    }
  };

  const readPending = async () => {
    try {
      const headers = { 'x-api-key': options.apiKey };
      const list = (await (await fetch(`${options.httpUrl}/api/sessions`, { headers, signal: AbortSignal.timeout(10_000) })).json()) as {
        sessions?: Array<{ id: string; status: string }>;
      };
      for (const session of list.sessions ?? []) {
        if (session.status !== 'qr' || closed) continue;
        const answer = await fetch(`${options.httpUrl}/api/sessions/${session.id}/qr`, { headers, signal: AbortSignal.timeout(10_000) });
        if (answer.ok) show(session.id, 'qr', ((await answer.json()) as { qr?: string }).qr);
      }
    } catch (error) {
      options.onProblem?.(`could not read the sessions waiting for a scan: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  const connect = () => {
    if (closed) return;
    const ws = new WebSocket(`${options.websocketUrl}/?apiKey=${encodeURIComponent(options.apiKey)}`);
    socket = ws;
    ws.on('open', () => {
      attempt = 0;
      void readPending();
    });
    ws.on('message', (raw) => {
      let frame: ConnectionUpdate;
      try {
        frame = JSON.parse(String(raw)) as ConnectionUpdate;
      } catch {
        return;
      }
      if (frame.event === 'connection_update' && typeof frame.sessionId === 'string') {
        show(frame.sessionId, frame.data?.status, frame.data?.qr, frame.data?.pairingCode);
      }
    });
    ws.on('error', () => undefined); // 'close' follows and reconnects
    ws.on('close', () => {
      if (closed) return;
      attempt += 1;
      const delay = Math.min(500 * 2 ** Math.min(attempt, 5), 10_000) * (0.5 + Math.random() / 2);
      timer = setTimeout(connect, delay);
    });
  };
  connect();
  return {
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      socket?.terminate();
    },
  };
}

/** The QR as text for a terminal (two modules per character). */
export function qrForTerminal(qr: string): Promise<string> {
  return QRCode.toString(qr, { type: 'terminal', small: true });
}
