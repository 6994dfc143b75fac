// Shared by the dashboard's browser tests: the Chromium to drive (or exit 77, ctest's
// "skipped", where none is installed), the processes under test, the tiny configs, and
// waiting for the page.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const env = process.env;
const started = Date.now();
export const log = (text) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);

function skip(reason) {
  console.log(`SKIPPED: ${reason}`);
  process.exit(77);
}

// $EDBP_CHROMIUM (CMake's find_program result: "...-NOTFOUND" when it found none) or
// Debian's path.
const given = env.EDBP_CHROMIUM && !env.EDBP_CHROMIUM.endsWith('-NOTFOUND') ? env.EDBP_CHROMIUM : '';
export const chromiumPath = given || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync) || '';
if (!existsSync(chromiumPath)) {
  skip(`Chromium is not installed${given ? ` at ${given}` : ''} (apt-get install chromium)`);
}
for (const name of ['EDBP_SERVER_BIN', 'EDBP_CLIENT_BIN', 'EDBP_NODE_MODULES', 'EDBP_ARTIFACTS']) {
  if (!env[name]) throw new Error(`${name} is not set (run this test through ctest)`);
}
const require = createRequire(join(env.EDBP_NODE_MODULES, 'noop.js'));
export const { chromium } = require('playwright-core');

export const artifacts = env.EDBP_ARTIFACTS;
mkdirSync(artifacts, { recursive: true });
// The processes started and not yet exited (a failing test kills them).
export const children = new Set();

// ---- processes ---------------------------------------------------------------------

// Starts `program`; resolves with the first stdout line matching `pattern` (its match).
export function startProcess(program, args, pattern) {
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const stderr = [];
  child.stderr.on('data', (d) => stderr.push(d.toString()));
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    children.delete(child);
    resolve({ code, signal });
  }));
  child.stderrText = () => stderr.join('');
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`${program} did not start: ${child.stderrText()}`)), 20000);
    lines.on('line', (line) => {
      const match = pattern.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${program} exited with ${code}: ${child.stderrText()}`));
    });
  });
}

export async function stop(child, signal = 'SIGTERM') {
  if (!children.has(child)) return child.exited;
  child.kill(signal);
  return child.exited;
}

// edbp-server on 127.0.0.1 (a free port) with its data in `dataDir`, and `edbp-client
// dashboard` over it: {server, serverAddress, serverArgs, dashboard, url}.
export async function startServerAndDashboard(dataDir) {
  const serverArgs = (listen) => [`--listen=${listen}`, `--data-dir=${dataDir}`,
                                  '--cpu-slots=2', '--grace-seconds=5'];
  const server = await startProcess(env.EDBP_SERVER_BIN, serverArgs('127.0.0.1:0'),
                                    /^listening on (.*)$/);
  const serverAddress = server.match[1];
  log(`edbp-server on ${serverAddress}`);
  const dashboard = await startProcess(
    env.EDBP_CLIENT_BIN, ['--server', serverAddress, 'dashboard', '--listen', '127.0.0.1:0'],
    /^dashboard on (http:\/\/127\.0\.0\.1:\d+\/) \(edbp-server at (.*)\)$/);
  const url = dashboard.match[1];
  if (dashboard.match[2] !== serverAddress) throw new Error(`wrong server: ${dashboard.match[0]}`);
  log(`dashboard on ${url}`);
  return { server, serverAddress, serverArgs, dashboard, url };
}

// ---- configs -----------------------------------------------------------------------

// configs/small.yaml for `epochs` epochs on the first `limit` samples (Fashion-MNIST
// where installed, else synthetic data of the same shape), on the CPU (the pace of the
// test must not depend on a GPU).
export function tinyConfig(epochs, limit) {
  let yaml = readFileSync('configs/small.yaml', 'utf8');
  yaml = yaml.replace(/^ {2}epochs: \d+$/m, `  epochs: ${epochs}`);
  yaml = yaml.replace(/^ {2}n_steps: 5$/m, `  n_steps: 5\n  data_limit: ${limit}`);
  yaml = yaml.replace(/^ {2}backend: .*$/m, '  backend: "cpu"');
  if (!existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz')) {
    yaml = yaml.replace(/^ {2}dataset: .*$/m, '  dataset: "Synthetic"\n  input_shape: [1, 28, 28]');
  }
  return yaml;
}

// ---- waiting -----------------------------------------------------------------------

// Polls `check` every 100 ms until it returns a truthy value (returned) or `timeoutMs`
// passes (an error naming `what` and the last value seen). A falsy value means "not yet";
// a throw from `check` means "never" and ends the wait at once, so probes must not throw
// for what is merely not there yet: they read the page through `peek`.
export async function waitFor(what, check, timeoutMs) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// fn(element) of the first element matching `selector`, or undefined while there is none
// (the job table is rebuilt from ListJobs every second: a row may not be there yet).
// Unlike page.$eval it never throws for a missing element, and unlike page.textContent
// it never waits.
export async function peek(page, selector, fn) {
  const element = await page.$(selector);
  return element ? element.evaluate(fn) : undefined;
}
