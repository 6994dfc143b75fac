// Run comparison and the sweep view (issue 19): jobs picked in the job table (or a
// sweep's trials) overlaid per epoch, with the hyper-parameters that differ between
// them and their best test accuracy; the sweeps, and for one sweep each swept key
// against the trials' best test accuracy. Reads /api/jobs/ID, /api/jobs/ID/epochs,
// /api/sweeps and /api/sweeps/ID (client/dashboard/dashboard_server.h). Loaded before
// app.js, whose helpers ($, num, jobId, page, setText, showSubmitStatus) it uses at
// call time; app.js calls startCompare().
'use strict';

const COMPARE_POLL_MS = 3000;  // while a compared job is QUEUED or RUNNING
const SWEEPS_POLL_MS = 3000;
const ENDED = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

const compare = {
  order: [],            // the compared jobs' names, in the order they were picked
  epochs: new Map(),    // name -> /api/jobs/ID/epochs
  details: new Map(),   // name -> /api/jobs/ID (config flattened)
  errors: new Map(),    // name -> why it could not be read
  charts: null,         // {accuracy, trainLoss, testLoss}, for `chartJobs`
  chartJobs: '',
  timer: 0,
  loading: false,
  again: false,         // a change came while loading: load once more
};

const sweepsView = {
  sweep: null,          // the shown sweep (GET /api/sweeps/ID)
  id: '',
  charts: [],
  chartKeys: '',
  rows: new Map(),      // sweep name -> <tr>
};

const pct = (v) => (v == null || !(v >= 0) ? '–' : `${(100 * v).toFixed(2)}%`);
const colorOf = (i) => EdbpCharts.PALETTE[i % EdbpCharts.PALETTE.length];

async function fetchJson(url, options) {
  const response = await fetch(url, { cache: 'no-store', ...options });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const why = body && body.error ? `${body.code}: ${body.error}` : `HTTP ${response.status}`;
    throw new Error(why);
  }
  return body;
}

// ---- selection ---------------------------------------------------------------------

function isCompared(name) { return compare.order.includes(name); }

// Adds or removes one job; the job table's checkboxes follow.
function toggleCompare(name, on) {
  const has = isCompared(name);
  if (on && !has) compare.order.push(name);
  if (!on && has) compare.order = compare.order.filter((n) => n !== name);
  compareChanged();
}

// Compares exactly `names` (a sweep's trials).
function setCompare(names) {
  compare.order = [...new Set(names)];
  compareChanged();
}

function compareChanged() {
  for (const name of [...compare.epochs.keys()]) {
    if (!isCompared(name)) {
      compare.epochs.delete(name);
      compare.details.delete(name);
      compare.errors.delete(name);
    }
  }
  for (const [name, tr] of page.rows) {
    const box = tr.querySelector('input.pick');
    if (box && box.checked !== isCompared(name)) box.checked = isCompared(name);
  }
  $('compare-view').hidden = compare.order.length === 0;
  $('compare-view').dataset.jobs = compare.order.map(jobId).join(',');
  loadCompare();
}

// ---- loading -----------------------------------------------------------------------

async function loadCompare() {
  clearTimeout(compare.timer);
  if (compare.loading) {
    compare.again = true;
    return;
  }
  compare.loading = true;
  const names = [...compare.order];
  await Promise.all(names.map(async (name) => {
    const id = jobId(name);
    const known = compare.epochs.get(name);
    try {
      if (!compare.details.has(name)) compare.details.set(name, await fetchJson(`/api/jobs/${id}`));
      if (!known || !ENDED.has(known.state)) {
        compare.epochs.set(name, await fetchJson(`/api/jobs/${id}/epochs`));
      }
      compare.errors.delete(name);
    } catch (e) {
      compare.errors.set(name, e.message);
    }
  }));
  compare.loading = false;
  if (compare.again) {
    compare.again = false;
    loadCompare();
    return;
  }
  renderCompare();
  const live = compare.order.some((n) => !compare.epochs.has(n) || !ENDED.has(compare.epochs.get(n).state));
  if (live && compare.order.length > 0) compare.timer = setTimeout(loadCompare, COMPARE_POLL_MS);
}

// ---- drawing -----------------------------------------------------------------------

function jobLabel(name) {
  const e = compare.epochs.get(name) || compare.details.get(name);
  const display = e && e.display_name ? ` ${e.display_name}` : '';
  return `${jobId(name)}${display}`;
}

function ensureCompareCharts(names) {
  const key = names.join('|');
  if (compare.charts && compare.chartJobs === key) return;
  if (compare.charts) for (const c of Object.values(compare.charts)) c.destroy();
  compare.chartJobs = key;
  const series = names.map((n, i) => ({ label: jobLabel(n), color: colorOf(i) }));
  const C = EdbpCharts.LineChart;
  compare.charts = {
    accuracy: new C($('compare-accuracy'), { series, percent: true, liveLegend: false }),
    trainLoss: new C($('compare-train-loss'), { series, yLabel: 'loss', liveLegend: false }),
    testLoss: new C($('compare-test-loss'), { series, yLabel: 'loss', liveLegend: false }),
  };
}

// The keys whose values are not the same in every config (a missing key counts).
function differingKeys(configs) {
  const keys = new Set();
  for (const c of configs) for (const k of Object.keys(c)) keys.add(k);
  return [...keys].filter((k) => new Set(configs.map((c) => (k in c ? c[k] : '\u0000'))).size > 1)
      .sort();
}

function cell(tr, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  tr.appendChild(td);
  return td;
}

function renderCompare() {
  const names = compare.order;
  const errors = names.filter((n) => compare.errors.has(n))
      .map((n) => `${n}: ${compare.errors.get(n)}`);
  $('compare-error').hidden = errors.length === 0;
  setText($('compare-error'), errors.join('\n'));
  setText($('compare-count'), `${names.length} job${names.length === 1 ? '' : 's'}`);
  if (names.length === 0) return;
  ensureCompareCharts(names);

  // One x per epoch any job has; a job without that epoch has a gap there.
  let last = 0;
  for (const n of names) for (const e of (compare.epochs.get(n)?.epochs || [])) last = Math.max(last, e.epoch);
  const xs = Array.from({ length: last }, (_, i) => i + 1);
  const column = (field) => names.map((n) => {
    const values = new Array(last).fill(null);
    for (const e of (compare.epochs.get(n)?.epochs || [])) values[e.epoch - 1] = e[field];
    return values;
  });
  const latest = (field, fmt) => names.map((n) => {
    const records = compare.epochs.get(n)?.epochs || [];
    const at = records[records.length - 1];
    return `${jobLabel(n)}: ${at ? fmt(at[field]) : '–'}`;
  });
  const c = compare.charts;
  const fmt = EdbpCharts.formatNumber;
  c.accuracy.setData(xs, column('test_accuracy'));
  c.accuracy.setLabels(latest('test_accuracy', pct));
  c.trainLoss.setData(xs, column('train_loss'));
  c.trainLoss.setLabels(latest('train_loss', fmt));
  c.testLoss.setData(xs, column('test_loss'));
  c.testLoss.setLabels(latest('test_loss', fmt));

  // The table: a row per job; the keys that differ, the seed, the best accuracy.
  const configs = names.map((n) => compare.details.get(n)?.config || {});
  const keys = differingKeys(configs);
  const head = document.createElement('tr');
  ['', 'Job', 'State', ...keys, 'seed', 'Best test acc.', 'at epoch', 'Epochs']
      .forEach((text, i) => {
        const th = document.createElement('th');
        th.textContent = text;
        if (i >= 3 + keys.length) th.className = 'num';
        head.appendChild(th);
      });
  const rows = names.map((n, i) => {
    const tr = document.createElement('tr');
    tr.dataset.job = n;
    const swatch = cell(tr, '');
    swatch.innerHTML = `<span class="swatch" style="background:${colorOf(i)}"></span>`;
    cell(tr, jobLabel(n));
    const e = compare.epochs.get(n);
    const detail = compare.details.get(n);
    cell(tr, e ? e.state : '…', 'state').dataset.state = e ? e.state : '';
    keys.forEach((k, j) => cell(tr, k in configs[i] ? configs[i][k] : '–', 'param'));
    cell(tr, detail ? String(num(detail.seed)) : '–', 'num seed');
    cell(tr, pct(e ? e.best_test_accuracy : null), 'num best');
    cell(tr, e && e.best_epoch != null ? String(e.best_epoch) : '–', 'num best-epoch');
    cell(tr, e ? `${e.epochs.length}/${num(e.epochs_total)}` : '–', 'num');
    return tr;
  });
  document.querySelector('#compare-table thead').replaceChildren(head);
  document.querySelector('#compare-table tbody').replaceChildren(...rows);
  const view = $('compare-view');
  view.dataset.keys = keys.join(',');
  view.dataset.loaded = String(names.filter((n) => compare.epochs.has(n)).length);
  view.dataset.epochs = String(last);
}

// ---- sweeps ------------------------------------------------------------------------

function sweepId(name) { return name.replace(/^sweeps\//, ''); }
const sweepStateText = (s) => (s || '').replace(/^SWEEP_/, '');

async function pollSweeps() {
  try {
    const list = await fetchJson('/api/sweeps');
    // edbp-server away: keep what was shown (the banner says why).
    if (list.reachable) renderSweeps(list.sweeps || []);
    if (sweepsView.id && list.reachable) {
      sweepsView.sweep = await fetchJson(`/api/sweeps/${sweepsView.id}`);
      showSweepError('');
    }
  } catch (e) {
    showSweepError(e.message);
  }
  if (sweepsView.sweep) renderSweep();
  setTimeout(pollSweeps, SWEEPS_POLL_MS);
}

function showSweepError(text) {
  $('sweep-error').hidden = !text;
  setText($('sweep-error'), text);
}

function renderSweeps(sweeps) {
  const tbody = document.querySelector('#sweep-table tbody');
  const rows = sweeps.map((s) => {
    let tr = sweepsView.rows.get(s.name);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.sweep = s.name;
      tr.addEventListener('click', () => selectSweep(sweepId(s.name)));
      sweepsView.rows.set(s.name, tr);
    }
    tr.replaceChildren();
    cell(tr, sweepId(s.name), 'num');
    cell(tr, s.display_name || '(unnamed)');
    cell(tr, sweepStateText(s.state), 'state').dataset.state = s.state;
    cell(tr, String((s.trials || []).length), 'num');
    cell(tr, String(num(s.stopped_early)), 'num');
    cell(tr, s.best_job || '–');
    cell(tr, pct(num(s.best_test_accuracy)), 'num');
    tr.classList.toggle('selected', sweepsView.id === sweepId(s.name));
    return tr;
  });
  tbody.replaceChildren(...rows);
  $('no-sweeps').hidden = sweeps.length > 0;
}

async function selectSweep(id) {
  sweepsView.id = id;
  for (const [name, tr] of sweepsView.rows) tr.classList.toggle('selected', sweepId(name) === id);
  try {
    sweepsView.sweep = await fetchJson(`/api/sweeps/${id}`);
    showSweepError('');
    renderSweep();
  } catch (e) {
    showSweepError(`sweeps/${id}: ${e.message}`);
  }
}

// The keys a sweep varies: its grid and random keys, then "seed" when it has several.
function sweptKeys(sweep) {
  const keys = [...(sweep.grid || []).map((g) => g.key), ...(sweep.random || []).map((r) => r.key)];
  if ((sweep.seeds || []).length > 1) keys.push('seed');
  return [...new Set(keys)];
}

function trialValue(trial, key) {
  if (key === 'seed') return String(num(trial.seed));
  const p = (trial.parameters || []).find((x) => x.key === key);
  return p ? p.value : null;
}

function renderSweep() {
  const sweep = sweepsView.sweep;
  const view = $('sweep-view');
  view.hidden = false;
  view.dataset.sweep = sweep.name;
  const trials = sweep.trials || [];
  view.dataset.trials = String(trials.length);
  setText($('sweep-title'), `${sweep.name} ${sweep.display_name ? `“${sweep.display_name}”` : ''}`);
  const state = $('sweep-state');
  setText(state, sweepStateText(sweep.state));
  state.dataset.state = sweep.state;
  setText($('sweep-summary'), `${trials.length} trials · best ${sweep.best_job || '–'} ` +
      `(${pct(num(sweep.best_test_accuracy))}) · ${num(sweep.stopped_early)} stopped early`);
  $('sweep-cancel').hidden = sweep.state !== 'SWEEP_RUNNING';

  // Trial jobs as the job table last saw them: state, best accuracy, error.
  const jobOf = (t) => page.jobs.get(t.job) || {};
  const best = (t) => {
    const b = num(jobOf(t).best_test_accuracy);
    return b >= 0 ? b : null;
  };

  // A scatter chart per swept key: the key's value against the best test accuracy.
  const keys = sweptKeys(sweep);
  const chartKey = `${sweep.name}|${keys.join('|')}`;
  if (sweepsView.chartKeys !== chartKey) {
    for (const c of sweepsView.charts) c.destroy();
    const holder = $('sweep-charts');
    holder.replaceChildren();
    sweepsView.charts = keys.map((key) => {
      const values = trials.map((t) => trialValue(t, key)).filter((v) => v != null);
      const numbers = values.map(Number);
      const numeric = numbers.every((v) => isFinite(v));
      const positive = numeric && numbers.every((v) => v > 0);
      const logX = positive && Math.max(...numbers) / Math.min(...numbers) >= 10;
      const categories = numeric ? null : [...new Set(values)].sort();
      const card = document.createElement('div');
      card.className = 'card';
      card.dataset.key = key;
      card.innerHTML = '<h3></h3><div class="chart"></div>';
      card.querySelector('h3').textContent = `${key} → best test accuracy`;
      holder.appendChild(card);
      const chart = new EdbpCharts.ScatterChart(card.querySelector('.chart'), {
        xLabel: key, percent: true, logX, categories, label: 'best test accuracy',
        integer: numeric && numbers.every((v) => Number.isInteger(v)) });
      chart.key = key;
      chart.toX = (v) => (categories ? categories.indexOf(v) : Number(v));
      return chart;
    });
    sweepsView.chartKeys = chartKey;
  }
  for (const chart of sweepsView.charts) {
    const points = trials.map((t) => ({ x: chart.toX(trialValue(t, chart.key)), y: best(t) }));
    chart.setPoints(points);
    chart.el.closest('.card').dataset.points = String(points.filter((p) => p.y != null).length);
  }

  const rows = trials.map((t) => {
    const job = jobOf(t);
    const tr = document.createElement('tr');
    tr.dataset.job = t.job;
    cell(tr, String(num(t.index)), 'num');
    const link = cell(tr, t.job);
    link.className = 'link';
    link.addEventListener('click', () => selectJob(jobId(t.job)));
    cell(tr, job.state || '…', 'state').dataset.state = job.state || '';
    cell(tr, (t.parameters || []).map((p) => `${p.key}=${p.value}`).join(', '));
    cell(tr, String(num(t.seed)), 'num');
    cell(tr, pct(best(t)), 'num best');
    const stopped = (job.error || '').startsWith('stopped early');
    cell(tr, stopped ? job.error : '', stopped ? 'note stopped' : 'note');
    return tr;
  });
  document.querySelector('#trial-table tbody').replaceChildren(...rows);
}

async function cancelSweep(button) {
  if (!sweepsView.sweep) return;
  const name = sweepsView.sweep.name;
  if (!confirm(`Cancel ${name}? Its QUEUED and RUNNING trials are cancelled.`)) return;
  button.disabled = true;
  try {
    sweepsView.sweep = await fetchJson(`/api/sweeps/${sweepId(name)}/cancel`,
                                       { method: 'POST', headers: POST_HEADERS });
    showSubmitStatus(`${name}: cancelled (${sweepStateText(sweepsView.sweep.state)})`, false);
    renderSweep();
  } catch (e) {
    showSubmitStatus(`cancel ${name}: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

// ---- lifecycle of a job (the job table's buttons) ----------------------------------

async function deleteJob(name, button) {
  if (!confirm(`Delete ${name}? Its checkpoints, log and history are removed.`)) return;
  button.disabled = true;
  try {
    const r = await fetchJson(`/api/jobs/${jobId(name)}/delete`,
                              { method: 'POST', headers: POST_HEADERS });
    showSubmitStatus(`deleted ${r.name} (${(num(r.freed_bytes) / 1048576).toFixed(1)} MiB freed)`, false);
    if (isCompared(name)) toggleCompare(name, false);
    if (page.view && page.view.name === name) closeJobView();
  } catch (e) {
    showSubmitStatus(`delete ${name}: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

async function resumeJob(name, button) {
  button.disabled = true;
  try {
    const job = await fetchJson(`/api/jobs/${jobId(name)}/resume`,
                                { method: 'POST', headers: POST_HEADERS });
    showSubmitStatus(`${job.name}: resumed (${job.state})`, false);
    compare.epochs.delete(name);  // it trains again: read its epochs anew
    if (isCompared(name)) loadCompare();
  } catch (e) {
    showSubmitStatus(`resume ${name}: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

function startCompare() {
  $('compare-clear').addEventListener('click', () => setCompare([]));
  $('sweep-compare').addEventListener('click', () => {
    if (sweepsView.sweep) setCompare((sweepsView.sweep.trials || []).map((t) => t.job));
    $('compare-view').scrollIntoView();
  });
  $('sweep-cancel').addEventListener('click', (e) => cancelSweep(e.target));
  window.addEventListener('resize', () => {
    if (compare.charts) for (const c of Object.values(compare.charts)) c.resize();
    for (const c of sweepsView.charts) c.resize();
  });
  pollSweeps();
}
