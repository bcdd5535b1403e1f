/**
 * The local stack's output, for people or for machines. `json`: the children's JSON log lines as they are, and the
 * stack's own lines in the same shape (pino's). `pretty`: one short coloured line per entry,
 * `12:00:01.234 INFO  session-host  session host ready  sessions=0`. Lines that are not JSON pass as they are.
 */
export type LogFormat = 'json' | 'pretty';

export function logFormatFrom(value: string | undefined, isTty: boolean): LogFormat {
  if (value === 'json' || value === 'pretty') return value;
  if (value !== undefined && value !== '') throw new Error(`LOG_FORMAT must be json or pretty, not ${JSON.stringify(value)}`);
  return isTty ? 'pretty' : 'json';
}

const levelNames: Record<string | number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const colours: Record<string, string> = { trace: '90', debug: '90', info: '32', warn: '33', error: '31', fatal: '35' };
/** Fields shown in the head of the line or not at all. */
const quiet = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname', 'v']);

export function formatPretty(entry: Record<string, unknown>, colour: boolean): string {
  const level = levelNames[entry.level as string | number] ?? String(entry.level ?? 'info');
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : new Date().toISOString().slice(11, 23);
  const paint = (code: string, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  const fields = Object.entries(entry)
    .filter(([key]) => !quiet.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : compact(value)}`);
  const service = typeof entry.service === 'string' ? entry.service : '';
  return [
    paint('90', time),
    paint(colours[level] ?? '0', level.toUpperCase().padEnd(5)),
    paint('36', service.padEnd(13)),
    typeof entry.msg === 'string' ? entry.msg : '',
    fields.length > 0 ? paint('90', fields.join(' ')) : '',
  ]
    .filter((part) => part !== '')
    .join(' ');
}

function compact(value: unknown): string {
  if (value !== null && typeof value === 'object' && 'message' in value && typeof (value as { message: unknown }).message === 'string') {
    return JSON.stringify((value as { message: string }).message); // an error: its message, not its stack
  }
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/** One line a child printed, as it should appear: parsed and formatted in pretty mode, as it is in json mode. */
export function formatChildLine(line: string, format: LogFormat, colour: boolean): string {
  if (format === 'json' || !line.startsWith('{')) return line;
  try {
    const entry = JSON.parse(line) as unknown;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return line;
    return formatPretty(entry as Record<string, unknown>, colour);
  } catch {
    return line;
  }
}

/** A line of the stack's own, in the chosen format. */
export function formatOwnLine(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>, format: LogFormat, colour: boolean): string {
  const entry = { level, time: new Date().toISOString(), service: 'local-stack', msg, ...fields };
  return format === 'json' ? JSON.stringify(entry) : formatPretty(entry, colour);
}
