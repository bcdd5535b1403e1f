/**
 * CloudWatch embedded metric format (EMF) from the REST function: one JSON log line per request, which CloudWatch
 * Logs turns into metrics with no API call and no agent
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 *
 * Namespace `whatsapp-service`; in each line:
 * - `Requests` (Count) and `Latency` (Milliseconds) by `Route` (the declared path, `/api/sessions/{sessionId}`, so
 *   that ids never become dimensions), `Method` and `Status`;
 * - when the request sent commands to a session host: `Commands` (Count) and `CommandLatency` (Milliseconds) by
 *   `CommandType` and `CommandOutcome` (`ok`, or the error code: `TIMEOUT`, `SESSION_HOST_UNAVAILABLE`…).
 *
 * On in a deployed Lambda (AWS_LAMBDA_FUNCTION_NAME set, not serverless offline) or with `EMF_METRICS=true`; off with
 * `EMF_METRICS=false`.
 */
import { ServiceError } from '../../contract/errors.js';
import type { CommandBus } from '../../lib/command-bus.js';

export const emfNamespace = 'whatsapp-service';

export interface RequestSample {
  route: string;
  method: string;
  status: number;
  latencyMs: number;
}

export interface CommandSample {
  type: string;
  outcome: string;
  latencyMs: number;
}

/** One EMF document (a log line) for a request and the commands it sent. Several commands of one type and outcome share their values. */
export function emfLine(request: RequestSample, commands: readonly CommandSample[], now = Date.now()): string {
  const directives: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> = [
    {
      Namespace: emfNamespace,
      Dimensions: [['Route', 'Method', 'Status'], ['Route']],
      Metrics: [
        { Name: 'Requests', Unit: 'Count' },
        { Name: 'Latency', Unit: 'Milliseconds' },
      ],
    },
  ];
  const document: Record<string, unknown> = {
    Route: request.route,
    Method: request.method,
    Status: String(request.status),
    Requests: 1,
    Latency: round(request.latencyMs),
  };
  // A document has one value per dimension: the commands of a request are one type and outcome in practice (one
  // command per request); should there be more, the first type/outcome names them all and the counts add up.
  const first = commands[0];
  if (first !== undefined) {
    directives.push({
      Namespace: emfNamespace,
      Dimensions: [['CommandType', 'CommandOutcome']],
      Metrics: [
        { Name: 'Commands', Unit: 'Count' },
        { Name: 'CommandLatency', Unit: 'Milliseconds' },
      ],
    });
    document.CommandType = first.type;
    document.CommandOutcome = first.outcome;
    document.Commands = commands.length;
    document.CommandLatency = commands.length === 1 ? round(first.latencyMs) : commands.map((command) => round(command.latencyMs));
  }
  return JSON.stringify({ _aws: { Timestamp: now, CloudWatchMetrics: directives }, ...document });
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

export function emfEnabled(env: Record<string, string | undefined> = process.env): boolean {
  if (env.EMF_METRICS === 'true') return true;
  if (env.EMF_METRICS === 'false') return false;
  return env.AWS_LAMBDA_FUNCTION_NAME !== undefined && env.IS_OFFLINE !== 'true';
}

/** Collects the commands each request sends (by its request id), for its EMF line. */
export class CommandRecorder {
  private readonly byRequest = new Map<string, CommandSample[]>();

  begin(requestId: string): void {
    this.byRequest.set(requestId, []);
  }

  /** The commands recorded for the request, forgetting them. */
  end(requestId: string): CommandSample[] {
    const samples = this.byRequest.get(requestId) ?? [];
    this.byRequest.delete(requestId);
    return samples;
  }

  /** The bus, with each request timed and its outcome recorded under the caller's request id (its trace id). */
  wrap(bus: Pick<CommandBus, 'request'>): Pick<CommandBus, 'request'> {
    const recorder = this;
    return {
      async request(target, command, timeoutMs, traceId) {
        const started = performance.now();
        let outcome = 'ok';
        try {
          return await bus.request(target, command, timeoutMs, traceId);
        } catch (error) {
          outcome = error instanceof ServiceError ? error.code : 'INTERNAL';
          throw error;
        } finally {
          if (traceId !== undefined) recorder.byRequest.get(traceId)?.push({ type: command.type, outcome, latencyMs: performance.now() - started });
        }
      },
    };
  }
}
