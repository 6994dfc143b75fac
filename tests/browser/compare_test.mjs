// Run comparison, the sweep view and the job lifecycle in a real browser (issue 19):
// edbp-server and `edbp-client dashboard` on loopback, Debian's Chromium driven
// headless by playwright-core.
//
//   - a sweep of 4 trials (Network.lr × 2 seeds, created through POST /api/sweeps) on
//     `data_limit` data; the sweep view lists it, shows a scatter chart per swept key
//     (a point per trial) and the trials' table with their best accuracy;
//   - "compare these trials": the 4 curves overlaid per epoch (integer epoch ticks,
//     legend with each job's latest value), the table of differing keys (Network.lr,
//     seed) with each job's best test accuracy, equal to the job table's;
//   - the job table's checkboxes change the comparison;
//   - Delete (with its confirm), Resume of a cancelled job, an error with the server's
//     message, Cancel sweep.
// Screenshots: $EDBP_ARTIFACTS/dashboard-sweep.png and dashboard-compare.png (the
// README shows them from docs/). Exit 77 (ctest: skipped) where no Chromium is
// installed. Run by ctest (tests/browser/CMakeLists.txt) from the source root.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  artifacts, children, chromium, chromiumPath, log, peek, startServerAndDashboard, stop,
  tinyConfig, waitFor,
} from './browser_util.mjs';

const work = mkdtempSync(join(tmpdir(), 'edbp-browser-compare-'));
const SWEEP_EPOCHS = 3;
const LRS = ['0.0005', '0.005'];

async function main() {
  const { server, dashboard, url } = await startServerAndDashboard(join(work, 'server'));
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
  const errors = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1200 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      // The deliberate delete of a missing job answers 404, which the browser logs.
      if (m.type() === 'error' && !m.location().url.includes('/999999')) {
        errors.push(`console: ${m.text()} (${m.location().url})`);
      }
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(url)) errors.push(`request outside the dashboard: ${r.url()}`);
    });
    const dialogs = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      d.accept();
    });

    await page.goto(url);
    await page.waitForSelector('#connection[data-reachable="true"]', { timeout: 15000 });
    await page.waitForSelector('#no-sweeps:not([hidden])');

    // POST through the page, as the page's own code does.
    const post = (path, body) => page.evaluate(async ([p, b]) => {
      const r = await fetch(p, { method: 'POST', body: b,
                                 headers: { 'X-Edbp-Dashboard': '1', 'Content-Type': 'application/json' } });
      return { status: r.status, body: await r.json() };
    }, [path, body]);
    const createSweep = async (name, yaml, values, seeds) => {
      const r = await post('/api/sweeps', JSON.stringify({
        sweep: { display_name: name, config_yaml: yaml,
                 grid: [{ key: 'Network.lr', values }], seeds },
        sampling_seed: '1' }));
      if (r.status !== 200) throw new Error(`create sweep ${name}: ${JSON.stringify(r)}`);
      return r.body;
    };

    // ---- the sweep view ----
    const sweep = await createSweep('lr', tinyConfig(SWEEP_EPOCHS, 200), LRS, ['0', '1']);
    const trials = sweep.trials.map((t) => t.job);
    if (trials.length !== 4) throw new Error(`sweep planned ${JSON.stringify(sweep.trials)}`);
    log(`${sweep.name}: trials ${trials.join(' ')}`);
    const sweepRow = `#sweep-table tr[data-sweep="${sweep.name}"]`;
    await page.waitForSelector(sweepRow, { timeout: 10000 });
    await page.click(sweepRow);
    await page.waitForSelector(`#sweep-view[data-sweep="${sweep.name}"][data-trials="4"]`);
    await waitFor(`${sweep.name} finished`, async () => {
      const failed = await page.$$eval('#trial-table td.state', (tds) =>
        tds.filter((td) => td.dataset.state === 'FAILED').length);
      if (failed > 0) throw new Error(`a trial FAILED (see edbp-server's log below)`);
      return (await peek(page, '#sweep-state', (s) => s.dataset.state)) === 'SWEEP_FINISHED';
    }, 170000);
    // Every trial's point and final state, once the job table (polled apart from the
    // sweep) has caught up with every trial.
    await waitFor('4 points per swept key, 4 trials SUCCEEDED', async () => {
      const cards = await page.$$eval('#sweep-charts .card', (cs) =>
        cs.map((c) => `${c.dataset.key}:${c.dataset.points}`));
      const states = await page.$$eval('#trial-table td.state', (tds) => tds.map((td) => td.dataset.state));
      return cards.join() === 'Network.lr:4,seed:4' && states.join() === Array(4).fill('SUCCEEDED').join() &&
             cards;
    }, 10000);
    const trialRows = await page.$$eval('#trial-table tbody tr', (rows) => rows.map((tr) => ({
      job: tr.dataset.job, state: tr.children[2].textContent, params: tr.children[3].textContent,
      seed: tr.children[4].textContent, best: tr.children[5].textContent })));
    for (const [i, row] of trialRows.entries()) {
      if (row.job !== trials[i] || row.state !== 'SUCCEEDED' || !/^\d+\.\d\d%$/.test(row.best) ||
          !/^Network\.lr=(0\.0005|0\.005)$/.test(row.params)) {
        throw new Error(`trial row ${JSON.stringify(row)}`);
      }
    }
    const scatterX = await page.evaluate(
      'sweepsView.charts.map((c) => [c.key, Array.from(c.plot.data[0])])');
    log(`scatter x: ${JSON.stringify(scatterX)}`);
    if (JSON.stringify(scatterX[0][1]) !== '[0.0005,0.0005,0.005,0.005]') {
      throw new Error(`Network.lr scatter x ${JSON.stringify(scatterX)}`);
    }
    await (await page.$('#sweep-view')).screenshot({ path: join(artifacts, 'dashboard-sweep.png') });
    log(`sweep view: ${JSON.stringify(trialRows)}`);

    // ---- compare the trials ----
    await page.click('#sweep-compare');
    const ids = trials.map((t) => t.replace('jobs/', ''));
    await page.waitForSelector(`#compare-view[data-jobs="${ids.join(',')}"][data-loaded="4"]`);
    const view = await page.$eval('#compare-view', (v) => ({ ...v.dataset }));
    if (view.keys !== 'Network.lr' || view.epochs !== String(SWEEP_EPOCHS)) {
      throw new Error(`compare view ${JSON.stringify(view)}`);
    }
    const charted = await page.evaluate(() => ({
      x: Array.from(compare.charts.accuracy.x),
      series: compare.charts.accuracy.ys.map((s) => s.filter((v) => v != null).length),
      ticks: compare.charts.accuracy.plot.axes[0]._values,
      legend: [...document.querySelectorAll('#compare-accuracy .u-legend .u-series .u-label')]
          .map((l) => l.textContent),
    }));
    log(`comparison: ${JSON.stringify(charted)}`);
    const epochsWanted = Array.from({ length: SWEEP_EPOCHS }, (_, i) => i + 1).join();
    if (charted.x.join() !== epochsWanted || charted.series.join() !== '3,3,3,3') {
      throw new Error(`compare chart ${JSON.stringify(charted)}`);
    }
    if (!charted.ticks || charted.ticks.some((t) => t !== '' && !/^\d+$/.test(t))) {
      throw new Error(`epoch ticks ${JSON.stringify(charted.ticks)}`);
    }
    // The legend: each job with its latest test accuracy.
    if (charted.legend.length !== 4) throw new Error(`legend ${JSON.stringify(charted.legend)}`);
    charted.legend.forEach((text, i) => {
      if (!new RegExp(`^${ids[i]}( .*)?: \\d+\\.\\d\\d%$`).test(text)) {
        throw new Error(`legend ${JSON.stringify(charted.legend)}`);
      }
    });
    const table = await page.$$eval('#compare-table tbody tr', (rows) => rows.map((tr) => ({
      job: tr.dataset.job, lr: tr.querySelector('td.param').textContent,
      seed: tr.querySelector('td.seed').textContent, best: tr.querySelector('td.best').textContent,
      at: tr.querySelector('td.best-epoch').textContent })));
    const header = await page.$$eval('#compare-table thead th', (ths) => ths.map((th) => th.textContent));
    if (!header.includes('Network.lr') || !header.includes('seed')) throw new Error(`header ${header}`);
    for (const [i, row] of table.entries()) {
      const tableBest = await page.textContent(`#job-table tr[data-job="${row.job}"] .best`);
      if (row.job !== trials[i] || !LRS.includes(row.lr) || !['0', '1'].includes(row.seed) ||
          row.best !== tableBest || !/^[1-3]$/.test(row.at)) {
        throw new Error(`compare row ${JSON.stringify(row)} (job table: ${tableBest})`);
      }
    }
    await (await page.$('#compare-view')).screenshot({ path: join(artifacts, 'dashboard-compare.png') });
    log(`compare table: ${JSON.stringify(table)}`);

    // The job table's checkboxes: untick the last trial.
    await page.uncheck(`#job-table tr[data-job="${trials[3]}"] input.pick`);
    await page.waitForSelector(`#compare-view[data-jobs="${ids.slice(0, 3).join(',')}"][data-loaded="3"]`);
    log('unticked one trial: 3 compared');

    // ---- lifecycle ----
    // Delete an ended job from its row (after its confirm).
    await page.click(`#job-table tr[data-job="${trials[3]}"] button.delete`);
    await page.waitForSelector(`#job-table tr[data-job="${trials[3]}"]`, { state: 'detached', timeout: 10000 });
    const deleted = await page.textContent('#submit-status');
    if (!deleted.startsWith(`deleted ${trials[3]}`) || !dialogs.at(-1).includes(`Delete ${trials[3]}?`)) {
      throw new Error(`delete: ${deleted} / ${dialogs}`);
    }
    log(deleted);
    // An error comes back with the server's message.
    await page.evaluate(() => deleteJob('jobs/999999', document.createElement('button')));
    const refused = await page.textContent('#submit-status');
    if (!/^delete jobs\/999999: NOT_FOUND: .*999999/.test(refused)) throw new Error(`refusal: ${refused}`);
    log(refused);

    // Resume a cancelled job: a long one, cancelled from its row, resumed from its row.
    const long = (await page.evaluate(async (yaml) => {
      const r = await fetch('/api/jobs?name=long', {
        method: 'POST', headers: { 'X-Edbp-Dashboard': '1' }, body: yaml });
      return r.json();
    }, tinyConfig(100, 2000))).name;
    const longRow = `#job-table tr[data-job="${long}"]`;
    await page.waitForSelector(`${longRow}[data-state="RUNNING"]`, { timeout: 30000 });
    await page.click(`${longRow} button.cancel`);
    await page.waitForSelector(`${longRow}[data-state="CANCELLED"]`, { timeout: 30000 });
    if (await peek(page, `${longRow} button.resume`, (b) => b.hidden)) throw new Error('no Resume button');
    await page.click(`${longRow} button.resume`);
    await page.waitForSelector(`${longRow}[data-state="RUNNING"], ${longRow}[data-state="QUEUED"]`,
                               { timeout: 15000 });
    const resumed = await page.textContent('#submit-status');
    if (!resumed.startsWith(`${long}: resumed`)) throw new Error(`resume: ${resumed}`);
    log(resumed);
    await page.click(`${longRow} button.cancel`);
    await page.waitForSelector(`${longRow}[data-state="CANCELLED"]`, { timeout: 30000 });

    // Cancel a running sweep from its view.
    const slow = await createSweep('slow', tinyConfig(100, 2000), ['0.001', '0.002'], []);
    const slowRow = `#sweep-table tr[data-sweep="${slow.name}"]`;
    await page.waitForSelector(slowRow, { timeout: 10000 });
    await page.click(slowRow);
    await page.waitForSelector(`#sweep-view[data-sweep="${slow.name}"] #sweep-cancel:not([hidden])`);
    await page.click('#sweep-cancel');
    await page.waitForSelector('#sweep-state[data-state="SWEEP_CANCELLED"]', { timeout: 15000 });
    await waitFor('the slow trials CANCELLED', async () => {
      const states = await page.$$eval('#trial-table td.state', (tds) => tds.map((td) => td.dataset.state));
      return states.length === 2 && states.every((s) => s === 'CANCELLED');
    }, 30000);
    log(`${slow.name} cancelled from the page`);
    if (errors.length) throw new Error(errors.join('\n'));
  } finally {
    await browser.close();
  }
  const ended = await stop(dashboard.child);
  if (ended.code !== 0) throw new Error(`the dashboard exited with ${JSON.stringify(ended)}`);
  await stop(server.child);
  log(`PASSED; screenshots in ${artifacts}`);
}

const watchdog = setTimeout(() => {
  console.error('FAILED: the test took more than 280 s');
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
}, 280000);

try {
  await main();
  clearTimeout(watchdog);
  rmSync(work, { recursive: true, force: true });
} catch (e) {
  console.error(`FAILED: ${e.stack || e}`);
  for (const child of children) {
    console.error(`--- stderr of pid ${child.pid}:\n${child.stderrText()}`);
    child.kill('SIGKILL');
  }
  console.error(`(data dir kept: ${work})`);
  process.exit(1);
}
