// The gradient-flow report (README "Gradient flow", ALGORITHM.md §14) drawn with the
// dashboard's LineChart (charts.js over uPlot): EdbpGradientFlow.render(report, prefix)
// fills the elements whose ids are prefix + meta, invariant-table, layer-table,
// step-table, chart-in, chart-out, chart-spikes and chart-grad, and returns the charts
// it made (destroy() them before drawing another report there). Used by the page of
// edbp-train --gradient-flow OUT (which embeds the report in <script
// id="gradient-flow-data"> and is drawn at once, prefix '') and by the dashboard's
// gradient-flow card (prefix 'gf-', the report from /api/jobs/ID/gradient-flow).
// Without uPlot (an edbp-train built without the dashboard's npm packages) the tables
// are drawn and the charts say why they are missing.
'use strict';

const EdbpGradientFlow = (() => {
  function render(report, prefix) {
    const fmt = (v) => (typeof EdbpCharts !== 'undefined' ? EdbpCharts.formatNumber(v)
                                                         : String(v));
    const $ = (id) => document.getElementById(prefix + id);
    const el = (tag, text, cls) => {
      const e = document.createElement(tag);
      if (text !== undefined) e.textContent = text;
      if (cls) e.className = cls;
      return e;
    };
    const sum = (xs) => (xs || []).reduce((a, b) => a + b, 0);
    // ‖dL/dW‖: "grad_norm" as every view names it; reports before the one vocabulary
    // (issue 19) called it "weight_grad_norm".
    const gradNorm = (l) => l.grad_norm ?? l.weight_grad_norm;
    const layers = report.layers;
    const steps = report.time_steps;
    const stepsAxis = Array.from({ length: steps }, (_, t) => t);

    $('meta').textContent =
        `${report.config} · weights ${report.weights || '(initialised from seed ' +
         report.seed + ')'} · ${report.split} batch ${report.batch} of ${report.batches} ` +
        `(${report.batch_size} samples, file order) · T = ${steps} · loss ${fmt(report.loss)}`;

    for (const id of ['invariant-table', 'layer-table', 'step-table']) {
      for (const part of $(id).querySelectorAll('tbody')) part.replaceChildren();
    }
    for (const c of [$('chart-in'), $('chart-out'), $('chart-spikes'), $('chart-grad')]) {
      c.replaceChildren();
    }
    // The invariant: one row per (layer, the spiking layer below it).
    const pairs = $('invariant-table').querySelector('tbody');
    for (const p of report.invariant) {
      const tr = el('tr');
      const via = p.through.length ? ` (through ${p.through.join(', ')})` : '';
      tr.append(el('td', `${p.upper} → ${p.lower}${via}`),
                el('td', fmt(p.passed_down), 'num'), el('td', fmt(p.entering), 'num'),
                el('td', p.relative_difference.toExponential(2), 'num'),
                el('td', p.max_step_relative_difference.toExponential(2), 'num'));
      tr.dataset.holds =
          String(p.relative_difference <= 1e-5 && p.max_step_relative_difference <= 1e-5);
      pairs.append(tr);
    }
    if (!report.invariant.length) {
      const tr = el('tr');
      tr.append(el('td', 'no pair of adjacent spiking layers', 'muted'));
      pairs.append(tr);
    }

    // Per layer: totals, ‖dL/dW‖, spikes and silent neurons.
    const body = $('layer-table').querySelector('tbody');
    for (const l of layers) {
      const tr = el('tr');
      tr.append(el('td', l.name), el('td', l.type), el('td', String(l.neurons), 'num'),
                el('td', fmt(sum(l.grad_in)), 'num'),
                el('td', l.grad_out ? fmt(sum(l.grad_out)) : '–', 'num'),
                el('td', fmt(gradNorm(l)), 'num'), el('td', fmt(l.weight_norm), 'num'),
                el('td', String(sum(l.spikes)), 'num'),
                el('td', `${l.silent_neurons} (${(100 * l.silent_fraction).toFixed(2)}%)`,
                   'num'));
      body.append(tr);
    }

    // Per layer and step: the three series as numbers.
    const stepTable = $('step-table');
    stepTable.querySelector('thead').replaceChildren();
    const head = el('tr');
    head.append(el('th', 'layer'), el('th', 'series'));
    for (const t of stepsAxis) head.append(el('th', `t=${t}`, 'num'));
    stepTable.querySelector('thead').append(head);
    const rows = stepTable.querySelector('tbody');
    for (const l of layers) {
      for (const [label, values] of [['Σ dL/dt in', l.grad_in], ['Σ dL/dx out', l.grad_out],
                                     ['spikes', l.spikes]]) {
        if (!values) continue;
        const tr = el('tr');
        tr.append(el('td', l.name), el('td', label));
        // Spike counts are exact integers; the sums get the dashboard's 4 digits.
        for (const v of values) tr.append(el('td', label === 'spikes' ? String(v) : fmt(v), 'num'));
        rows.append(tr);
      }
    }

    if (typeof uPlot === 'undefined' || typeof EdbpCharts === 'undefined') {
      for (const c of [$('chart-in'), $('chart-out'), $('chart-spikes'), $('chart-grad')]) {
        c.textContent = 'charts need uPlot, which this edbp-train was built without ' +
                        '(the dashboard\'s npm packages); the tables below hold every number';
        c.classList.add('muted');
      }
      document.body.dataset.charts = 'none';
      return [];
    }
    const charts = [];
    // Time steps and layers are whole numbers: the x axes tick at whole increments only
    // (uPlot reads axis.incrs at every redraw).
    const whole = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
    const lineChart = (id, series, values, options) => {
      const chart = new EdbpCharts.LineChart($(id), { series, ...options });
      chart.plot.axes[0].incrs = () => whole;
      for (const [x, ys] of values) chart.push(x, ys);
      charts.push(chart);
    };
    const perStep = (pick) => stepsAxis.map((t) => [t, layers.map((l) => {
      const v = pick(l);
      return v ? v[t] : null;
    })]);
    const names = layers.map((l) => ({ label: l.name }));
    lineChart('chart-in', names, perStep((l) => l.grad_in),
              { xLabel: 'time step', yLabel: 'Σ dL/dt' });
    lineChart('chart-out', names, perStep((l) => l.grad_out),
              { xLabel: 'time step', yLabel: 'Σ dL/dx' });
    lineChart('chart-spikes', names,
              perStep((l) => l.spikes.map((s) => s / (l.neurons * report.batch_size))),
              { xLabel: 'time step', yLabel: 'spikes / neuron' });
    // ‖dL/dW‖ over the layers in forward order (x = 1 .. L), on a log axis.
    lineChart('chart-grad', [{ label: '‖dL/dW‖' }],
              layers.map((l, i) => [i + 1, [gradNorm(l) > 0 ? gradNorm(l) : null]]),
              { xLabel: 'layer (forward order)', yLabel: '‖dL/dW‖', log: true });
    return charts;
  }

  return { render };
})();

// The page of edbp-train --gradient-flow: its report is in the page.
if (document.getElementById('gradient-flow-data')) {
  const charts = EdbpGradientFlow.render(
      JSON.parse(document.getElementById('gradient-flow-data').textContent), '');
  window.addEventListener('resize', () => charts.forEach((c) => c.resize()));
  if (typeof uPlot !== 'undefined') document.body.dataset.charts = String(charts.length);
}
