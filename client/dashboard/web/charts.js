// Charts of the dashboard: thin wrappers around uPlot that redraw at most once per
// animation frame and decimate long series, and the confusion-matrix heat map.
'use strict';

const EdbpCharts = (() => {
  const PALETTE = ['#2f6fde', '#d9480f', '#2b8a3e', '#ae3ec9', '#e67700', '#0c8599',
                   '#c2255c', '#5c7cfa', '#66a80f', '#495057'];

  // Keeps the first and last point and, per bucket of the rest, the points holding the
  // minimum and the maximum, in x order: at most about 2 * buckets + 2 points, and the
  // curve's extremes survive. xs ascending; ys[k] are the series over xs.
  function decimate(xs, ys, buckets) {
    const n = xs.length;
    if (n <= 2 * buckets + 2) return [xs, ys];
    const keep = [0];
    const size = (n - 2) / buckets;
    for (let b = 0; b < buckets; b++) {
      const from = 1 + Math.floor(b * size);
      const to = Math.min(n - 1, 1 + Math.floor((b + 1) * size));
      if (from >= to) continue;
      let lo = from, hi = from;
      for (let i = from; i < to; i++) {
        const v = ys[0][i];
        if (v == null) continue;
        if (ys[0][lo] == null || v < ys[0][lo]) lo = i;
        if (ys[0][hi] == null || v > ys[0][hi]) hi = i;
      }
      if (lo === hi) keep.push(lo);
      else keep.push(Math.min(lo, hi), Math.max(lo, hi));
    }
    keep.push(n - 1);
    return [keep.map((i) => xs[i]), ys.map((s) => keep.map((i) => s[i]))];
  }

  const pending = new Set();
  let frame = 0;
  function schedule(chart) {
    pending.add(chart);
    if (!frame) {
      frame = requestAnimationFrame(() => {
        frame = 0;
        const charts = [...pending];
        pending.clear();
        for (const c of charts) c.draw();
      });
    }
  }

  // The last value of series `si` that is not null (null when there is none).
  function lastValue(u, si) {
    const values = u.data[si] || [];
    for (let i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i];
    return null;
  }

  // Ticks of an axis whose values are whole numbers (epochs): steps of 1, 2, 5, 10, ...
  // and no label at a fractional value.
  const INTEGER_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
  const integerValues = (u, vals) => vals.map((v) => (Number.isInteger(v) ? String(v) : ''));

  // A line chart over x = epoch (or fractional epoch).
  //   series: [{label, color?, dash?}], log: log10 y axis, maxPoints: decimate beyond,
  //   integerX: x is a whole epoch (integer ticks; default: xLabel is 'epoch'),
  //   liveLegend: the legend shows the values under the cursor (default true; false:
  //   labels only, see setLabels).
  class LineChart {
    constructor(el, {series, log = false, xLabel = 'epoch', yLabel = '', maxPoints = 0,
                     percent = false, share = false, integerX = xLabel === 'epoch',
                     liveLegend = true}) {
      this.el = el;
      this.maxPoints = maxPoints;
      this.x = [];
      this.ys = series.map(() => []);
      this.drawn = 0;
      // percent: an accuracy (2 decimals); share: the silent fraction's 3 significant
      // digits (README "Statistics": 0.00023 is 0.023%, not 0.00%).
      const fmt = share ? formatShare
                        : percent ? (v) => (v == null ? '–' : (100 * v).toFixed(2) + '%')
                                  : (v) => (v == null ? '–' : formatNumber(v));
      percent = percent || share;
      const opts = {
        width: Math.max(200, el.clientWidth || 400),
        height: 220,
        scales: { x: { time: false }, y: log ? { distr: 3 } : { auto: true } },
        axes: [
          integerX ? { label: xLabel, size: 36, incrs: INTEGER_INCRS, values: integerValues }
                   : { label: xLabel, size: 36 },
          { label: yLabel, size: 64,
            // A log axis passes null for the ticks it leaves unlabelled.
            values: (u, vals) => vals.map((v) => (v == null ? ''
                : percent ? formatNumber(100 * v) + '%' : formatNumber(v))) },
        ],
        // The legend shows the values under the cursor, and the latest ones when the
        // cursor is elsewhere (uPlot passes idx null then).
        series: [{ label: xLabel,
                   value: (u, v, si, idx) => {
                     const x = idx == null ? lastValue(u, 0) : v;
                     return x == null ? '–' : formatNumber(x);
                   } }].concat(
          series.map((s, i) => ({
            label: s.label,
            stroke: s.color || PALETTE[i % PALETTE.length],
            width: 1.5,
            dash: s.dash,
            spanGaps: true,
            points: { show: false },
            value: (u, v, si, idx) => fmt(idx == null ? lastValue(u, si) : v),
          }))),
        legend: { live: liveLegend },
      };
      this.plot = new uPlot(opts, [[], ...series.map(() => [])], el);
    }

    // Sets the legend's text of each series (labels[i] for series i).
    setLabels(labels) {
      const rows = this.plot.root.querySelectorAll('.u-legend .u-series');
      // A live legend has a row for x first; a static one has not.
      const first = rows.length - labels.length;
      labels.forEach((text, i) => {
        const label = rows[first + i] && rows[first + i].querySelector('.u-label');
        if (label && label.textContent !== text) label.textContent = text;
      });
    }

    // Replaces every point at once: xs ascending, ys[k] the values of series k.
    setData(xs, ys) {
      this.x = xs.slice();
      this.ys = ys.map((s) => s.slice());
      schedule(this);
    }

    // Appends one x with a value per series (null: none); replaces x values >= x first
    // (a repeated epoch after a resume).
    push(x, values) {
      let at = this.x.length;
      while (at > 0 && this.x[at - 1] >= x) at--;
      if (at < this.x.length) {
        this.x.length = at;
        for (const s of this.ys) s.length = at;
      }
      this.x.push(x);
      values.forEach((v, i) => this.ys[i].push(v));
      schedule(this);
    }

    clear() {
      this.x = [];
      this.ys = this.ys.map(() => []);
      schedule(this);
    }

    // Points drawn at the last frame (after decimation); onDraw(chart), when set, is
    // called after each redraw.
    get drawnPoints() { return this.drawn; }

    draw() {
      let xs = this.x, ys = this.ys;
      if (this.maxPoints > 0) [xs, ys] = decimate(xs, ys, Math.floor(this.maxPoints / 2));
      this.drawn = xs.length;
      this.plot.setData([xs, ...ys]);
      if (this.onDraw) this.onDraw(this);
    }

    resize() {
      const w = Math.max(200, this.el.clientWidth || 400);
      if (w !== this.plot.width) this.plot.setSize({ width: w, height: 220 });
    }

    destroy() {
      pending.delete(this);
      this.plot.destroy();
    }
  }

  // Points (no lines) of y against one hyper-parameter: x numeric (log10 axis with
  // `logX`; integer ticks with `integer`), or `categories` (x = index into them,
  // labelled by name).
  class ScatterChart {
    constructor(el, {xLabel, yLabel = '', percent = false, logX = false, categories = null,
                     integer = false, label = '', color = PALETTE[0]}) {
      this.el = el;
      const fmt = percent ? (v) => (v == null ? '–' : (100 * v).toFixed(2) + '%')
                          : (v) => (v == null ? '–' : formatNumber(v));
      const xText = (v) => (categories ? (categories[v] ?? '') : formatNumber(v));
      const xAxis = { label: xLabel, size: 36,
                      values: (u, vals) => vals.map((v) => (v == null ? '' : xText(v))) };
      if (logX) {
        // Labels at 1, 2 and 5 × 10^k (uPlot's default labels the decades only).
        xAxis.filter = (u, splits) => splits.map((v) => {
          const mantissa = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
          return [1, 2, 5].some((k) => Math.abs(mantissa - k) < 1e-6) ? v : null;
        });
      }
      if (integer && !logX && !categories) {
        xAxis.incrs = INTEGER_INCRS;
        xAxis.values = integerValues;
      }
      if (categories) {
        xAxis.incrs = [1];
        xAxis.values = (u, vals) =>
          vals.map((v) => (Number.isInteger(v) ? (categories[v] ?? '') : ''));
      }
      // Ranges with a margin around every point: trials share x values (seeds), and
      // uPlot's own range would end at the first of equal last x values, leaving the
      // others out.
      const xRange = categories ? [-0.5, categories.length - 0.5]
          : (u, min, max) => (logX ? [min / 1.5, max * 1.5]
                                   : [min - (0.08 * (max - min) || 0.5), max + (0.08 * (max - min) || 0.5)]);
      const yRange = (u, min, max) => [min - (0.1 * (max - min) || 0.01),
                                       max + (0.1 * (max - min) || 0.01)];
      this.plot = new uPlot({
        width: Math.max(200, el.clientWidth || 400),
        height: 220,
        scales: { x: Object.assign({ time: false, range: xRange }, logX ? { distr: 3 } : {}),
                  y: { range: yRange } },
        axes: [xAxis, { label: yLabel, size: 64,
                        values: (u, vals) => vals.map((v) => (v == null ? '' : fmt(v))) }],
        series: [{ label: xLabel, value: (u, v) => (v == null ? '–' : xText(v)) },
                 { label, stroke: color, fill: color, paths: () => null,
                   points: { show: true, space: 0, size: 9, fill: color, stroke: color },
                   value: (u, v) => fmt(v) }],
        legend: { live: true },
      }, [[], []], el);
    }

    // Points (x, y), any order; y == null is left out.
    setPoints(points) {
      const kept = points.filter((p) => p.y != null && isFinite(p.x)).sort((a, b) => a.x - b.x);
      this.plot.setData([kept.map((p) => p.x), kept.map((p) => p.y)]);
    }

    resize() {
      const w = Math.max(200, this.el.clientWidth || 400);
      if (w !== this.plot.width) this.plot.setSize({ width: w, height: 220 });
    }

    destroy() { this.plot.destroy(); }
  }

  // A fraction as a percentage with 3 significant digits, never "0%" or "100%" unless
  // exactly so (core/train/statistics.h's kShare).
  function formatShare(v) {
    if (v == null || !isFinite(v)) return '–';
    let text = Number((100 * v).toPrecision(3)).toString();
    if (v > 0 && v < 1 && text === '100') text = '99.9';
    return `${text}%`;
  }

  function formatNumber(v) {
    if (v == null || !isFinite(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
    return Number(v.toPrecision(4)).toString();
  }

  // Row = true label, column = predicted; each row coloured by its share of the row's
  // total. The axes are titled ("true" down the left, "predicted" along the top) and
  // labelled with `names[i]` where given (one per class: the data set's class names),
  // else with the label numbers. Returns the titles and labels drawn (for tests).
  function drawConfusion(canvas, matrix, n, names) {
    const ctx = canvas.getContext('2d');
    const labels = Array.from({ length: n }, (_, i) =>
        (names && names.length === n ? String(names[i]) : String(i)));
    const size = canvas.width;
    const title = 16;  // the axis titles' band
    const font = (px) => `${px}px system-ui, sans-serif`;
    ctx.font = font(11);
    const widest = Math.max(...labels.map((t) => ctx.measureText(t).width), 8);
    // Labels take at most a third of the canvas; longer ones are cut with "…".
    const band = Math.min(Math.ceil(widest) + 6, Math.floor(size / 3));
    const margin = title + band;
    const cell = (size - margin) / Math.max(n, 1);
    const fit = (text) => {
      if (ctx.measureText(text).width <= band - 6) return text;
      let t = text;
      while (t.length > 1 && ctx.measureText(t + '…').width > band - 6) t = t.slice(0, -1);
      return t + '…';
    };
    ctx.clearRect(0, 0, size, canvas.height);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.font = font(Math.max(8, Math.min(12, cell / 3)));
    for (let r = 0; r < n; r++) {
      let total = 0;
      for (let c = 0; c < n; c++) total += matrix[r * n + c];
      for (let c = 0; c < n; c++) {
        const v = matrix[r * n + c];
        const share = total > 0 ? v / total : 0;
        const x = margin + c * cell, y = margin + r * cell;
        ctx.fillStyle = r === c ? `rgba(43,138,62,${0.1 + 0.9 * share})`
                                : `rgba(201,42,42,${share > 0 ? 0.1 + 0.9 * share : 0.03})`;
        ctx.fillRect(x, y, cell - 1, cell - 1);
        if (cell >= 18) {
          ctx.fillStyle = share > 0.55 ? '#fff' : '#1d2330';
          ctx.fillText(String(v), x + cell / 2, y + cell / 2);
        }
      }
    }
    ctx.fillStyle = '#6b7385';
    ctx.font = font(11);
    const shown = labels.map(fit);
    for (let i = 0; i < n; i++) {
      // Rows: right-aligned left of the matrix; columns: upwards above it.
      ctx.textAlign = 'right';
      ctx.fillText(shown[i], margin - 4, margin + i * cell + cell / 2);
      ctx.save();
      ctx.translate(margin + i * cell + cell / 2, margin - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = 'left';
      ctx.fillText(shown[i], 0, 0);
      ctx.restore();
    }
    ctx.fillStyle = '#1d2330';
    ctx.font = `600 ${font(12)}`;
    ctx.textAlign = 'center';
    ctx.fillText('predicted', margin + (size - margin) / 2, title / 2);
    ctx.save();
    ctx.translate(title / 2, margin + (size - margin) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText('true', 0, 0);
    ctx.restore();
    return { rows: 'true', columns: 'predicted', labels };
  }

  return { PALETTE, LineChart, ScatterChart, decimate, drawConfusion, formatNumber, formatShare };
})();
