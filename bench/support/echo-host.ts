/**
 * The floor of the command path: a bare Redis request/reply peer, the same shape as the session host's inbox
 * (BRPOP, then RPOP of up to 100 more) and reply (PUBLISH to the caller's channel), with the same client library
 * (ioredis) and nothing else: no envelope validation, no session, no engine.
 * Each request is `<reply channel>|<request id>`; the reply is the request id.
 */
import { Redis } from 'ioredis';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const inbox = process.env.ECHO_INBOX ?? 'bench:echo:inbox';
const blocking = new Redis(url);
const publisher = new Redis(url);
let running = true;

process.on('SIGTERM', () => {
  running = false;
  blocking.disconnect();
  publisher.disconnect();
  process.exit(0);
});

async function main(): Promise<void> {
  await publisher.ping();
  process.stdout.write('echo ready\n');
  while (running) {
    const popped = await blocking.brpop(inbox, 1);
    if (popped === null) continue;
    const raws = [popped[1]];
    const more = await blocking.rpop(inbox, 100);
    if (more !== null) raws.push(...more);
    for (const raw of raws) {
      const bar = raw.indexOf('|');
      void publisher.publish(raw.slice(0, bar), raw.slice(bar + 1));
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`echo host failed: ${String(error)}\n`);
  process.exit(1);
});
