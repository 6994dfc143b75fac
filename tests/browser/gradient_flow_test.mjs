// The page of `edbp-train --gradient-flow OUT` (ALGORITHM.md §14) in a real browser:
// edbp-train writes the reference-small network's report, Debian's Chromium opens
// OUT.html from the disk with every network request refused, and the page must draw
// its four charts (uPlot canvases), the invariant table with each pair holding to 1e-5,
// the layer table, and no script error. Screenshot: $EDBP_ARTIFACTS/gradient-flow.png.
// Exit 77 (ctest: skipped) where Chromium or Fashion-MNIST is missing. Run by ctest
// (tests/browser/CMakeLists.txt) from the source root.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = process.env;
function skip(reason) {
  console.log(`SKIPPED: ${reason}`);
  process.exit(77);
}
const given = env.EDBP_CHROMIUM && !env.EDBP_CHROMIUM.endsWith('-NOTFOUND') ? env.EDBP_CHROMIUM : '';
const chromiumPath = given || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync) || '';
if (!existsSync(chromiumPath)) skip('Chromium is not installed (apt-get install chromium)');
if (!existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz')) {
  skip('Fashion-MNIST is not installed (scripts/install-deps.sh)');
}
for (const name of ['EDBP_TRAIN_BIN', 'EDBP_NODE_MODULES', 'EDBP_ARTIFACTS']) {
  if (!env[name]) throw new Error(`${name} is not set (run this test through ctest)`);
}
const require = createRequire(join(env.EDBP_NODE_MODULES, 'noop.js'));
const { chromium } = require('playwright-core');
mkdirSync(env.EDBP_ARTIFACTS, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'edbp-gradient-flow-browser-'));

try {
  const out = join(work, 'flow');
  // Paths relative to the source root (the page shows them as given).
  const text = execFileSync(env.EDBP_TRAIN_BIN, [
    'tests/data/reference-small/config.yaml', '--init-weights',
    'tests/data/reference-small/init.safetensors', '--gradient-flow', out,
  ], { encoding: 'utf8', timeout: 120000 });
  if (!text.includes('wrote')) throw new Error(`edbp-train: ${text}`);

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
  const errors = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1400 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    // Offline: the page may read itself and data: URLs, nothing else.
    const refused = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
      refused.push(url);
      return route.abort();
    });
    await page.goto(pathToFileURL(`${out}.html`).href);
    await page.waitForSelector('body[data-charts="4"]', { timeout: 20000 });
    // Each chart is a uPlot with its canvas, drawn at the next animation frame.
    await page.waitForFunction(() => document.querySelectorAll('.chart .uplot canvas').length === 4);
    const invariant = await page.$$eval('#invariant-table tbody tr',
                                        (rows) => rows.map((r) => r.dataset.holds));
    if (invariant.length !== 3 || invariant.some((h) => h !== 'true')) {
      throw new Error(`invariant rows: ${JSON.stringify(invariant)}`);
    }
    const layers = await page.$$eval('#layer-table tbody tr', (rows) => rows.length);
    if (layers !== 4) throw new Error(`${layers} layer rows, expected 4`);
    const legend = await page.$$eval('#chart-in .u-legend .u-series', (s) => s.length);
    if (legend !== 5) throw new Error(`${legend} legend entries in chart-in, expected 1 + 4`);
    const meta = await page.textContent('#meta');
    if (!meta.includes('train batch 0 of 1200')) throw new Error(`meta: ${meta}`);
    await page.screenshot({ path: join(env.EDBP_ARTIFACTS, 'gradient-flow.png'), fullPage: true });
    if (refused.length) throw new Error(`requests left the page: ${refused.join(', ')}`);
    if (errors.length) throw new Error(errors.join('\n'));
  } finally {
    await browser.close();
  }
  console.log(`PASSED; screenshot in ${join(env.EDBP_ARTIFACTS, 'gradient-flow.png')}`);
} catch (e) {
  console.error(`FAILED: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
