// The dashboard page: the job table (polled from /api/jobs), submit, cancel, delete
// and resume, and the selected job's event stream (/api/jobs/ID/events, Server-Sent Events: the whole
// history first, then live) drawn as charts. See client/dashboard/dashboard_server.h.
// The run comparison and the sweeps are compare.js's.
'use strict';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const POST_HEADERS = { 'X-Edbp-Dashboard': '1' };
const MAX_LOG_LINES = 300;
const RUNNING_LOSS_POINTS = 600;  // the running-loss chart is decimated beyond this

const page = {
  server: '',
  dashboardDown: false,   // /api/jobs did not answer: edbp-client dashboard is gone
  serverError: '',        // edbp-server unreachable, as the dashboard reports it
  streamError: '',        // ... as the selected job's relay reports it
  rows: new Map(),        // job name -> <tr>
  jobs: new Map(),        // job name -> the job as the last /api/jobs listed it
  view: null,             // the selected job's JobView
  labels: new Map(),      // statistic name -> label (/api/statistics, README "Statistics")
};

// The label of a statistic, as every view of edbp shows it; its name until the
// vocabulary arrived.
const statLabel = (name) => page.labels.get(name) || name;

// ---- helpers -----------------------------------------------------------------------

const num = (v) => (v == null ? NaN : Number(v));
const jobId = (name) => name.replace(/^jobs\//, '');

function formatDuration(seconds) {
  if (seconds == null || !isFinite(seconds)) return '–';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function formatPercent(fraction) {
  return fraction == null || !(fraction >= 0) ? '–' : `${(100 * fraction).toFixed(2)}%`;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function jobFraction(job) {
  const epochs = num(job.epochs);
  if (job.state === 'SUCCEEDED') return 1;
  if (!(epochs > 0)) return 0;
  const p = job.progress;
  if (job.state === 'RUNNING' && p && num(p.batches) > 0) {
    // The test pass counts as its epoch's end (as jobs_monitor.cc's ProgressFraction).
    const within = p.phase === 'TEST' ? 1 : num(p.batch) / num(p.batches);
    const f = (num(p.epoch) - 1 + within) / epochs;
    return Math.min(1, Math.max(f, num(job.last_epoch) / epochs));
  }
  return Math.min(1, num(job.last_epoch) / epochs);
}

// The job's time left, by client/common/job_eta.h's rule: pace P = mean seconds of the
// finished epochs, else the current training pass extrapolated (eta per batch left ×
// batches); training pass: (E − e + batches left / batches) × P; test pass:
// (E − e) × P + its own eta. null when unknown.
class JobEta {
  constructor() {
    this.epochSeconds = 0;
    this.epochsDone = 0;
    this.latest = null;
    this.estimateEpoch = 0;
    this.trainPassEstimate = null;
  }

  onEpoch(m) {
    this.epochSeconds += Math.max(0, num(m.seconds) || 0);
    this.epochsDone += 1;
    this.latest = null;
  }

  onProgress(p) {
    if (num(p.epoch) !== this.estimateEpoch) {
      this.estimateEpoch = num(p.epoch);
      this.trainPassEstimate = null;
    }
    const batch = num(p.batch), batches = num(p.batches), eta = num(p.eta_seconds);
    if (p.phase !== 'TEST' && batch > 0 && batch < batches && eta >= 0) {
      this.trainPassEstimate = eta / (batches - batch) * batches;
    }
    this.latest = p;
  }

  pace() {
    return this.epochsDone > 0 ? this.epochSeconds / this.epochsDone : this.trainPassEstimate;
  }

  jobSeconds() {
    const pace = this.pace(), p = this.latest;
    if (p == null || pace == null) return null;
    const epochs = num(p.epochs), batches = num(p.batches);
    if (!(epochs > 0) || !(batches > 0)) return null;
    const after = Math.max(0, epochs - num(p.epoch));
    if (p.phase === 'TEST') return after * pace + Math.max(0, num(p.eta_seconds));
    return (after + Math.max(0, batches - num(p.batch)) / batches) * pace;
  }
}

// ---- the banner --------------------------------------------------------------------

function updateBanner() {
  let what = '', detail = '';
  if (page.dashboardDown) {
    what = 'dashboard unreachable';
    detail = 'edbp-client dashboard does not answer';
  } else if (page.serverError || page.streamError) {
    what = 'edbp-server unreachable';
    detail = `${page.server}: ${page.serverError || page.streamError}`;
  }
  const banner = $('banner');
  banner.hidden = what === '';
  if (what) {
    setText(banner.querySelector('strong'), what);
    setText($('banner-detail'), detail);
  }
  // What the table shows is the last answer: dimmed while edbp-server is away.
  $('job-table').classList.toggle('stale', what !== '');
  const pill = $('connection');
  const state = what ? 'false' : 'true';
  if (pill.dataset.reachable !== state) {
    pill.dataset.reachable = state;
    pill.textContent = what ? 'unreachable' : 'connected';
  }
}

// ---- the job table -----------------------------------------------------------------

function makeRow(job) {
  const tr = document.createElement('tr');
  tr.dataset.job = job.name;
  tr.innerHTML = '<td class="pick-cell"><input type="checkbox" class="pick" title="compare"></td>' +
      '<td class="id num"></td><td class="name"></td>' +
      '<td><span class="state"></span></td>' +
      '<td class="progress"><span class="bar"><span></span></span><span class="text"></span></td>' +
      '<td class="eta num"></td><td class="epoch num"></td><td class="best num"></td>' +
      '<td class="device"></td><td class="actions"></td>';
  const cancel = document.createElement('button');
  cancel.className = 'cancel';
  cancel.textContent = 'Cancel';
  cancel.addEventListener('click', (e) => {
    e.stopPropagation();
    cancelJob(tr.dataset.job, cancel);
  });
  const resume = document.createElement('button');
  resume.className = 'resume';
  resume.textContent = 'Resume';
  resume.addEventListener('click', (e) => {
    e.stopPropagation();
    resumeJob(tr.dataset.job, resume);
  });
  const remove = document.createElement('button');
  remove.className = 'delete';
  remove.textContent = 'Delete';
  remove.addEventListener('click', (e) => {
    e.stopPropagation();
    deleteJob(tr.dataset.job, remove);
  });
  tr.querySelector('.actions').append(cancel, resume, remove);
  const pick = tr.querySelector('input.pick');
  pick.addEventListener('click', (e) => e.stopPropagation());
  pick.addEventListener('change', () => toggleCompare(tr.dataset.job, pick.checked));
  tr.addEventListener('click', () => selectJob(jobId(tr.dataset.job)));
  return tr;
}

function updateRow(tr, job) {
  const id = jobId(job.name);
  setText(tr.querySelector('.id'), id);
  setText(tr.querySelector('.name'), job.display_name || '(unnamed)');
  const state = tr.querySelector('.state');
  setText(state, job.state);
  state.dataset.state = job.state;
  tr.dataset.state = job.state;
  const fraction = jobFraction(job);
  tr.querySelector('.bar > span').style.width = `${(100 * fraction).toFixed(1)}%`;
  setText(tr.querySelector('.progress .text'), `${(100 * fraction).toFixed(0)}%`);
  setText(tr.querySelector('.eta'),
          job.state === 'RUNNING' ? formatDuration(job.eta_seconds) : '–');
  setText(tr.querySelector('.epoch'), `${num(job.last_epoch)}/${num(job.epochs)}`);
  setText(tr.querySelector('.best'), formatPercent(num(job.best_test_accuracy)));
  setText(tr.querySelector('.device'), job.device || '–');
  tr.querySelector('.cancel').hidden = !(job.state === 'QUEUED' || job.state === 'RUNNING');
  tr.querySelector('.resume').hidden = !(job.state === 'CANCELLED' || job.state === 'FAILED');
  tr.querySelector('.delete').hidden =
      !(job.state === 'SUCCEEDED' || job.state === 'CANCELLED' || job.state === 'FAILED');
  tr.querySelector('input.pick').checked = isCompared(job.name);
  tr.classList.toggle('selected', page.view != null && page.view.id === id);
}

function renderJobs(jobs) {
  const tbody = document.querySelector('#job-table tbody');
  const seen = new Set();
  page.jobs = new Map(jobs.map((job) => [job.name, job]));
  jobs.forEach((job, index) => {
    seen.add(job.name);
    let tr = page.rows.get(job.name);
    if (!tr) {
      tr = makeRow(job);
      page.rows.set(job.name, tr);
    }
    updateRow(tr, job);
    if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
    if (page.view && page.view.name === job.name) page.view.updateFromJob(job);
  });
  for (const [name, tr] of page.rows) {
    if (!seen.has(name)) {
      tr.remove();
      page.rows.delete(name);
    }
  }
  $('no-jobs').hidden = jobs.length > 0;
}

async function pollJobs() {
  try {
    const response = await fetch('/api/jobs', { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const snapshot = await response.json();
    page.dashboardDown = false;
    page.serverError = snapshot.reachable || num(snapshot.polls) === 0
        ? '' : (snapshot.error || 'no answer');
    renderJobs(snapshot.jobs);
  } catch (e) {
    page.dashboardDown = true;
  }
  updateBanner();
  setTimeout(pollJobs, POLL_MS);
}

// ---- submit and cancel -------------------------------------------------------------

function showSubmitStatus(text, error) {
  const el = $('submit-status');
  el.hidden = false;
  el.textContent = text;
  el.classList.toggle('error', !!error);
}

async function submitConfig(event) {
  event.preventDefault();
  const file = $('config-file').files[0];
  if (!file) {
    showSubmitStatus('choose a config file (YAML) first', true);
    return;
  }
  const name = $('job-name').value.trim() || file.name.replace(/\.(ya?ml)$/i, '');
  const priority = $('job-priority').value.trim() || '0';
  const query = new URLSearchParams({ name, priority });
  $('submit-button').disabled = true;
  try {
    const response = await fetch(`/api/jobs?${query}`, {
      method: 'POST',
      headers: { ...POST_HEADERS, 'Content-Type': 'application/x-yaml' },
      body: await file.text(),
    });
    const body = await response.json();
    if (!response.ok) {
      showSubmitStatus(`${body.code}: ${body.error}`, true);
      return;
    }
    showSubmitStatus(`submitted ${body.name} "${body.display_name}" (${body.state})`, false);
    selectJob(jobId(body.name));
  } catch (e) {
    showSubmitStatus(`the dashboard did not answer: ${e.message}`, true);
  } finally {
    $('submit-button').disabled = false;
  }
}

async function cancelJob(name, button) {
  button.disabled = true;
  try {
    const response = await fetch(`/api/jobs/${jobId(name)}/cancel`,
                                 { method: 'POST', headers: POST_HEADERS });
    const body = await response.json();
    if (!response.ok) showSubmitStatus(`cancel ${name}: ${body.code}: ${body.error}`, true);
    else showSubmitStatus(`${name}: cancel requested (${body.state})`, false);
  } catch (e) {
    showSubmitStatus(`the dashboard did not answer: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

// ---- the selected job --------------------------------------------------------------

class JobView {
  constructor(id) {
    this.id = id;
    this.name = `jobs/${id}`;
    this.epochs = 0;          // epoch records received
    this.lastSequence = 0;
    this.state = '';
    this.progressText = '';
    this.eta = new JobEta();
    this.layers = null;       // layer names, from the first epoch record
    this.latest = null;       // the latest EpochMetrics
    this.logLines = [];
    this.dirty = false;
    const view = $('job-view');
    view.hidden = false;  // before the charts, which take their container's width
    view.dataset.job = this.name;
    const C = EdbpCharts.LineChart;
    const pair = (a, b) => [{ label: statLabel(a) }, { label: statLabel(b) }];
    this.charts = {
      loss: new C($('chart-loss'), { series: pair('train_loss', 'test_loss'), yLabel: 'loss' }),
      accuracy: new C($('chart-accuracy'), { series: pair('train_accuracy', 'test_accuracy'),
                                             percent: true }),
      running: new C($('chart-running'), { series: [{ label: 'running loss' }],
                                           maxPoints: RUNNING_LOSS_POINTS }),
      lr: new C($('chart-lr'), { series: [{ label: statLabel('learning_rate') }] }),
      speed: new C($('chart-speed'), { series: pair('train_samples_per_second',
                                                    'test_samples_per_second'),
                                       yLabel: 'samples/s' }),
    };
    this.classNames = [];     // of the job's data set (GET /api/jobs/ID), [] for none
    this.classNamesAsked = false;  // asked once the job's stream shows that it exists
    this.flowCharts = [];
    $('gf-report').hidden = true;
    $('gf-status').textContent = '';
    $('gf-compute').onclick = () => this.computeGradientFlow();
    this.charts.running.onDraw = (chart) => setText(
        $('running-points'), `(${chart.x.length} records, ${chart.drawnPoints} drawn)`);
    this.layerCharts = {};
    this.render();
    this.connect();
  }

  async fetchClassNames() {
    try {
      const response = await fetch(`/api/jobs/${this.id}`);
      if (!response.ok) return;
      const job = await response.json();
      if (page.view !== this) return;
      this.classNames = job.class_names || [];
      this.epochDirty = true;
      this.touch();
    } catch (e) {
      // The confusion matrix keeps its label numbers.
    }
  }

  // GET /api/jobs/ID/gradient-flow for the chosen checkpoint, drawn into the card.
  async computeGradientFlow() {
    const checkpoint = $('gf-checkpoint').value;
    const button = $('gf-compute');
    const status = $('gf-status');
    const card = $('gf-card');
    button.disabled = true;
    card.dataset.state = 'computing';
    status.classList.remove('error');
    status.textContent = `computing the report of the ${checkpoint} checkpoint…`;
    try {
      const response = await fetch(`/api/jobs/${this.id}/gradient-flow?checkpoint=${checkpoint}`);
      const body = await response.json();
      if (page.view !== this) return;
      if (!response.ok) {
        card.dataset.state = 'error';
        status.classList.add('error');
        status.textContent = `${body.code}: ${body.error}`;
        return;
      }
      for (const c of this.flowCharts) c.destroy();
      $('gf-report').hidden = false;
      this.flowCharts = EdbpGradientFlow.render(body, 'gf-');
      card.dataset.state = 'shown';
      card.dataset.checkpoint = checkpoint;
      const how = response.headers.get('X-Edbp-Report') === 'cached' ? 'made before' : 'made now';
      status.textContent = `the job's ${checkpoint} checkpoint: ${how} by the local ` +
          `edbp-train on training batch ${body.batch}`;
    } catch (e) {
      card.dataset.state = 'error';
      status.classList.add('error');
      status.textContent = `the dashboard did not answer: ${e.message}`;
    } finally {
      button.disabled = false;
    }
  }

  connect() {
    // The whole history first (a reload shows every epoch), then live events; the
    // browser resumes after the last id by itself if the connection drops.
    this.source = new EventSource(`/api/jobs/${this.id}/events?from=1`);
    this.source.addEventListener('edbp', (e) => {
      if (!this.classNamesAsked) {
        this.classNamesAsked = true;
        this.fetchClassNames();
      }
      this.onEvent(JSON.parse(e.data));
    });
    this.source.addEventListener('status', (e) => {
      const status = JSON.parse(e.data);
      page.streamError = status.reachable ? '' : (status.error || 'no answer');
      this.streamText = status.reachable ? 'live' : 'reconnecting…';
      updateBanner();
      this.touch();
    });
    this.source.addEventListener('end', () => {
      this.source.close();
      this.streamText = 'the job ended; history complete';
      this.touch();
    });
    this.source.addEventListener('failure', (e) => {
      this.source.close();
      this.error = JSON.parse(e.data).error;
      this.touch();
    });
    this.source.onopen = () => { this.streamText = 'live'; this.touch(); };
    this.source.onerror = () => {
      if (this.source.readyState === EventSource.CLOSED) {
        this.streamText = 'stream closed';
        this.touch();
      }
    };
  }

  destroy() {
    this.source.close();
    for (const c of Object.values(this.charts)) c.destroy();
    for (const c of Object.values(this.layerCharts)) c.destroy();
    for (const c of this.flowCharts) c.destroy();
    page.streamError = '';
  }

  touch() {
    if (this.dirty) return;
    this.dirty = true;
    requestAnimationFrame(() => { this.dirty = false; this.render(); });
  }

  updateFromJob(job) {
    if (!this.displayName) this.displayName = job.display_name;
    if (!this.state) this.state = job.state;
    this.jobError = job.error;
    this.touch();
  }

  onEvent(event) {
    this.lastSequence = num(event.sequence);
    if (event.state_change) {
      this.state = event.state_change.state;
      if (event.state_change.error) this.jobError = event.state_change.error;
    } else if (event.progress) {
      const p = event.progress;
      const test = p.phase === 'TEST';
      if (!test) {  // the chart is the training loss; the test pass's is another split's
        const x = num(p.epoch) - 1 + (num(p.batches) > 0 ? num(p.batch) / num(p.batches) : 0);
        this.charts.running.push(x, [num(p.running_loss)]);
      }
      this.eta.onProgress(p);
      const job = this.eta.jobSeconds();
      this.progressText = `epoch ${num(p.epoch)}: ${test ? 'test ' : ''}batch ` +
          `${num(p.batch)}/${num(p.batches)}, ` +
          `${num(p.samples_per_second).toFixed(0)} samples/s, ` +
          `eta ${formatDuration(num(p.eta_seconds))}` +
          (job == null ? '' : `, job eta ${formatDuration(job)}`);
    } else if (event.epoch_metrics) {
      this.onEpoch(event.epoch_metrics);
    } else if (event.log) {
      this.addLog(event.time, event.log.level, event.log.text);
    } else if (event.checkpoint_saved) {
      const c = event.checkpoint_saved;
      this.addLog(event.time, 'INFO', `checkpoint ${c.kind} saved (epoch ${num(c.epoch)})` +
                  (c.path ? `: ${c.path}` : ''));
    }
    this.touch();
  }

  addLog(time, level, text) {
    this.logLines.push({ time: (time || '').replace('T', ' ').replace(/\..*$/, ''), level, text });
    if (this.logLines.length > MAX_LOG_LINES) this.logLines.shift();
    this.logDirty = true;
  }

  ensureLayerCharts(layers) {
    const names = layers.map((l) => l.name);
    if (this.layers && this.layers.join('|') === names.join('|')) return;
    for (const c of Object.values(this.layerCharts)) c.destroy();
    this.layers = names;
    const C = EdbpCharts.LineChart;
    const perLayer = names.map((n) => ({ label: n }));
    // Σout of layer k (dashed) next to Σin of the layer below it (solid, same colour).
    const pairs = [];
    for (let k = names.length - 1; k >= 1; k--) {
      const color = EdbpCharts.PALETTE[k % EdbpCharts.PALETTE.length];
      pairs.push({ label: `${names[k]} ${statLabel('grad_sum_out')}`, color, dash: [6, 4] });
      pairs.push({ label: `${names[k - 1]} ${statLabel('grad_sum_in')}`, color });
    }
    this.layerCharts = {
      grad: new C($('chart-grad'), { series: perLayer, log: true, yLabel: statLabel('grad_norm') }),
      gradsum: new C($('chart-gradsum'), { series: pairs, yLabel: 'Σ gradient' }),
      rate: new C($('chart-rate'), { series: perLayer, yLabel: statLabel('firing_rate') }),
      silent: new C($('chart-silent'), { series: perLayer, share: true,
                                         yLabel: statLabel('silent_fraction') }),
    };
  }

  onEpoch(m) {
    this.eta.onEpoch(m);
    this.progressText = '';
    const epoch = num(m.epoch);
    this.epochs = epoch;
    this.totalEpochs = num(m.epochs);
    this.latest = m;
    const c = this.charts;
    c.loss.push(epoch, [num(m.train_loss), num(m.test_loss)]);
    c.accuracy.push(epoch, [num(m.train_accuracy), num(m.test_accuracy)]);
    c.lr.push(epoch, [num(m.learning_rate)]);
    c.speed.push(epoch, [num(m.train_samples_per_second), num(m.test_samples_per_second)]);
    const layers = [...(m.layers || [])].sort((a, b) => num(a.index) - num(b.index));
    if (layers.length === 0) return;
    this.ensureLayerCharts(layers);
    const l = this.layerCharts;
    l.grad.push(epoch, layers.map((x) => (num(x.grad_norm) > 0 ? num(x.grad_norm) : null)));
    const pairs = [];
    for (let k = layers.length - 1; k >= 1; k--) {
      pairs.push(num(layers[k].grad_sum_out), num(layers[k - 1].grad_sum_in));
    }
    l.gradsum.push(epoch, pairs);
    l.rate.push(epoch, layers.map((x) => num(x.firing_rate)));
    l.silent.push(epoch, layers.map((x) => num(x.silent_fraction)));
    this.layersSorted = layers;
    this.epochDirty = true;
  }

  render() {
    const view = $('job-view');
    view.dataset.epochs = String(this.epochs);
    view.dataset.state = this.state;
    view.dataset.lastSequence = String(this.lastSequence);
    setText($('job-title'), `${this.name} ${this.displayName ? `“${this.displayName}”` : ''}`);
    const state = $('job-state');
    setText(state, this.state);
    state.dataset.state = this.state;
    const epochs = this.totalEpochs ? `${this.epochs}/${this.totalEpochs} epochs` : '';
    setText($('job-progress'), [epochs, this.state === 'RUNNING' ? this.progressText : '']
        .filter(Boolean).join(' · '));
    setText($('stream-status'), this.streamText ? `stream: ${this.streamText}` : '');
    const error = this.error || ((this.state === 'FAILED' || this.state === 'CANCELLED') && this.jobError);
    $('job-error').hidden = !error;
    if (error) setText($('job-error'), error);
    if (this.epochDirty && this.latest) {
      this.epochDirty = false;
      this.renderInvariant();
      const n = num(this.latest.n_class);
      const matrix = (this.latest.confusion || []).map(num);
      if (n > 0 && matrix.length === n * n) {
        const drawn = EdbpCharts.drawConfusion($('confusion'), matrix, n, this.classNames);
        const canvas = $('confusion');
        canvas.dataset.rows = drawn.rows;
        canvas.dataset.columns = drawn.columns;
        canvas.dataset.labels = JSON.stringify(drawn.labels);
        setText($('confusion-epoch'), String(num(this.latest.epoch)));
      }
    }
    if (this.logDirty) {
      this.logDirty = false;
      const log = $('log');
      log.replaceChildren(...this.logLines.map((line) => {
        const div = document.createElement('div');
        div.className = line.level;
        div.textContent = `${line.time} ${line.level} ${line.text}`;
        return div;
      }));
      log.scrollTop = log.scrollHeight;
    }
    const row = page.rows.get(this.name);
    for (const tr of page.rows.values()) tr.classList.toggle('selected', tr === row);
  }

  renderInvariant() {
    const layers = this.layersSorted || [];
    const rows = [];
    for (let k = layers.length - 1; k >= 1; k--) {
      const out = num(layers[k].grad_sum_out), below = num(layers[k - 1].grad_sum_in);
      const scale = Math.max(Math.abs(out), Math.abs(below), 1e-30);
      const tr = document.createElement('tr');
      [`${layers[k].name} → ${layers[k - 1].name}`, EdbpCharts.formatNumber(out),
       EdbpCharts.formatNumber(below), (Math.abs(out - below) / scale).toExponential(1)]
          .forEach((text, i) => {
            const td = document.createElement('td');
            td.textContent = text;
            if (i > 0) td.className = 'num';
            tr.appendChild(td);
          });
      rows.push(tr);
    }
    document.querySelector('#gradsum-table tbody').replaceChildren(...rows);
  }

  resize() {
    for (const c of Object.values(this.charts)) c.resize();
    for (const c of Object.values(this.layerCharts)) c.resize();
  }
}

// Hides the selected job's view (its job was deleted).
function closeJobView() {
  if (!page.view) return;
  page.view.destroy();
  page.view = null;
  $('job-view').hidden = true;
  history.replaceState(null, '', location.pathname);
  updateBanner();
}

function selectJob(id) {
  if (page.view && page.view.id === id) return;
  if (page.view) page.view.destroy();
  page.view = new JobView(id);
  if (location.hash !== `#job=${id}`) history.replaceState(null, '', `#job=${id}`);
  updateBanner();
}

// ---- start -------------------------------------------------------------------------

async function start() {
  $('submit-form').addEventListener('submit', submitConfig);
  window.addEventListener('resize', () => page.view && page.view.resize());
  try {
    const info = await (await fetch('/api/info')).json();
    page.server = info.server;
    setText($('server-address'), `edbp-server ${info.server}`);
    const statistics = await (await fetch('/api/statistics')).json();
    for (const s of [...statistics.epoch, ...statistics.layer]) page.labels.set(s.name, s.label);
  } catch (e) {
    page.dashboardDown = true;
  }
  const match = /job=(\d+)/.exec(location.hash);
  if (match) selectJob(match[1]);
  pollJobs();
  startCompare();
}

start();
