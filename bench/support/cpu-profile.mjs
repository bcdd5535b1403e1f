// Preloaded into a session host under benchmark (NODE_OPTIONS=--import, which --cpu-prof may not use): profiles its
// CPU from start to exit and writes a .cpuprofile into BENCH_HOST_PROFILE_DIR (open it in Chrome DevTools, or read it
// with bench/support/profile-summary.ts).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const directory = process.env.BENCH_HOST_PROFILE_DIR;
if (directory) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  process.on('exit', () => {
    // The inspector answers synchronously on its own thread's session, so this runs to the end within 'exit'.
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(path.join(directory, `host-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
