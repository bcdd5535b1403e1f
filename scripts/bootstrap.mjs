// Makes a fresh Debian machine with Node 20 ready for `npm start`, `npm test` and `npm run bench`: npm packages,
// Debian's redis-server and, when asked, Debian's chromium. Plain JavaScript with no dependencies, because it runs
// before the npm packages exist. What it cannot install (not root), it names, and stops.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const chromiumPaths = ['/usr/bin/chromium', '/usr/lib/chromium/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

function say(message) {
  process.stderr.write(`[setup] ${message}\n`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: projectRoot, ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
}

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
let aptUpdated = false;

function aptInstall(packages, why) {
  if (!isRoot || !has('apt-get')) {
    say(`${why} is missing. Install it with: sudo apt-get install -y ${packages.join(' ')}`);
    process.exit(1);
  }
  say(`installing ${packages.join(' ')} from Debian (${why})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq'], { env });
    aptUpdated = true;
  }
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env });
}

function ensureNode() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) {
    say(`Node ${process.versions.node} is too old: Node 20 or newer is needed.`);
    process.exit(1);
  }
}

function ensureNodeModules() {
  const installed = path.join(projectRoot, 'node_modules', '.package-lock.json');
  const lock = path.join(projectRoot, 'package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  say('installing npm packages (npm install, as package-lock.json pins them)');
  // Not `npm ci`: the registry these machines reach lacks the optional platform packages of some dependencies
  // (rollup's for other systems), so the lock file cannot list them, and `npm ci` refuses a lock without them.
  // `npm install` installs exactly what the lock file pins. Puppeteer must not download a browser: .puppeteerrc.cjs
  // says so, and so does this.
  run('npm', ['install', '--no-audit', '--no-fund'], { env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: 'true' } });
}

function ensureRedis() {
  if (has('redis-server')) return;
  aptInstall(['redis-server'], 'redis-server (the local stack and the tests run their own)');
  // Debian starts a system Redis on 6379 on install; ours run on their own ports, so it is left as it is.
}

function findChromium() {
  const configured = process.env.CHROME_PATH;
  if (configured !== undefined && configured !== '') return existsSync(configured) ? configured : undefined;
  return chromiumPaths.find((candidate) => existsSync(candidate));
}

function ensureChromium() {
  if (findChromium() !== undefined) return;
  if (process.env.CHROME_PATH) {
    say(`CHROME_PATH=${process.env.CHROME_PATH} does not exist.`);
    process.exit(1);
  }
  aptInstall(['chromium', 'fonts-liberation', 'fonts-noto-color-emoji'], 'Debian chromium (the webjs engine drives it)');
}

/** @param {{ chromium: boolean }} needs */
export function ensureSetup(needs) {
  ensureNode();
  ensureNodeModules();
  ensureRedis();
  if (needs.chromium) ensureChromium();
}

/**
 * Runs a TypeScript entry point of the project (through tsx) as a child with this process's terminal, passes
 * Ctrl-C and SIGTERM on to it, and exits with its code once it has exited (never before: it is the one that stops
 * what it started). A Ctrl-C from the terminal reaches the child twice, from the terminal and from here: the child
 * counts signals that close together once (scripts/local-stack.ts). A signal sent to this process alone reaches it
 * only from here.
 * @param {string} file  @param {string[]} args
 */
export function runTypeScript(file, args) {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: projectRoot,
    stdio: 'inherit',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  let exited = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (!exited) child.kill(signal);
    });
  }
  child.on('exit', (code, signal) => {
    exited = true;
    process.exit(code ?? (signal ? 1 : 0));
  });
}
