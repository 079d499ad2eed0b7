// spreadsim's what-if page: its numbers in words and its figures, drawn as SVG from the server's
// answer (or the static export's embedded one). Loaded before app.js, which reads
// window.SpreadsimFigures.
"use strict";
window.SpreadsimFigures = (function () {
  const SVGNS = "http://www.w3.org/2000/svg";

  // ------------------------------------------------------------------ numbers and words
  function num(x) { return x === null || x === undefined ? NaN : (x === "inf" ? Infinity : Number(x)); }
  function fmt(x) {
    const f = num(x);
    if (!Number.isFinite(f)) return Number.isNaN(f) ? "-" : "never";
    const a = Math.abs(f);
    if (a >= 100) return Math.round(f).toLocaleString("en");
    if (a >= 10) return f.toFixed(1);
    if (a >= 1) return f.toFixed(2);
    return a === 0 ? "0" : f.toPrecision(2);
  }
  function pct(x) { const f = num(x); return Number.isFinite(f) ? (100 * f).toFixed(1) + "%" : "-"; }
  function hours(x) {
    const f = num(x);
    if (!Number.isFinite(f)) return Number.isNaN(f) ? "-" : "never";
    if (f === 0) return "0";
    if (f < 1) return Math.round(f * 60) + " min";
    if (f >= 48 && f % 24 === 0) return f / 24 + " d";
    return f + " h";
  }

  // ------------------------------------------------------------------ figures
  function svgEl(parent, tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  const W = 560, H = 300, M = { l: 58, r: 16, t: 14, b: 44 };
  // the latency axis: symmetric-log (0 at the left end, equal room per decade), 'never' at its own place
  function latencyScale(xs) {
    const finite = xs.map(num).filter(Number.isFinite);
    const t = (x) => Math.log10(1 + x / 0.25);
    const hi = t(Math.max(1, ...finite));
    const hasNever = xs.some((x) => num(x) === Infinity);
    const right = W - M.r - (hasNever ? 46 : 0);
    const f = (x) => {
      const v = num(x);
      if (v === Infinity) return W - M.r - 10;
      return M.l + (right - M.l) * (t(Math.max(0, v)) / hi);
    };
    f.ticks = [0, 0.25, 1, 6, 24, 168].filter((x) => x <= Math.max(...finite, 0) * 1.001);
    if (hasNever) f.ticks.push("inf");
    return f;
  }
  function linear(lo, hi, a, b) { return (v) => a + (b - a) * ((v - lo) / ((hi - lo) || 1)); }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function yAxis(svg, y, max, asPct) {
    const g = svgEl(svg, "g", { class: "axis" });
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      svgEl(g, "line", { x1: M.l, x2: W - M.r, y1: y(v), y2: y(v), class: "grid" });
      svgEl(g, "text", { x: M.l - 6, y: y(v) + 4, "text-anchor": "end" }, asPct ? Math.round(100 * v) + "%" : fmt(v));
    }
  }
  function xAxis(svg, x, label) {
    const g = svgEl(svg, "g", { class: "axis" });
    svgEl(g, "line", { x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b });
    for (const t of x.ticks) {
      svgEl(g, "line", { x1: x(t), x2: x(t), y1: H - M.b, y2: H - M.b + 4 });
      svgEl(g, "text", { x: x(t), y: H - M.b + 16, "text-anchor": "middle" }, hours(t));
    }
    svgEl(svg, "text", { x: (M.l + W - M.r) / 2, y: H - 8, "text-anchor": "middle", class: "label" }, label);
  }
  function curveFigure(svg, res, which) {
    svg.textContent = "";
    const curve = res.curve, asPct = which === "prevented";
    const pts = curve.x.map((x, i) => ({ x, m: num(curve[which][i][0]), lo: num(curve[which][i][1]), hi: num(curve[which][i][2]) }));
    const mk = res.marker[which].map(num);
    const top = asPct ? 1 : niceMax(Math.max(...pts.map((p) => (Number.isFinite(p.hi) ? p.hi : p.m)), mk[2] || 0, mk[0] || 0, num(curve.baseline) || 0));
    const x = latencyScale(curve.x);
    const y0 = linear(0, top, H - M.b, M.t);
    const y = (v) => y0(Math.min(top, Math.max(0, v)));  // (a t interval may reach below 0)
    yAxis(svg, y, top, asPct);
    const lever = curve.lever.split(".").pop() === "half_life_h" ? "removal half-life" : "removal latency";
    xAxis(svg, x, lever + (curve.reference ? " (curve: " + curve.lever.split(".")[0].replace(/_/g, " ") + " alone)" : ""));
    const band = pts.filter((p) => Number.isFinite(p.lo) && Number.isFinite(p.hi));
    if (band.length > 1) {
      const d = band.map((p) => `${x(p.x)},${y(p.hi)}`).concat(band.slice().reverse().map((p) => `${x(p.x)},${y(p.lo)}`));
      svgEl(svg, "polygon", { points: d.join(" "), class: "band" });
    }
    const line = pts.filter((p) => Number.isFinite(p.m));
    svgEl(svg, "polyline", { points: line.map((p) => `${x(p.x)},${y(p.m)}`).join(" "), class: "line" });
    for (const p of line) svgEl(svg, "circle", { cx: x(p.x), cy: y(p.m), r: 2.5, class: "dot" });
    if (!asPct && Number.isFinite(num(curve.baseline))) {
      const b = num(curve.baseline);
      svgEl(svg, "line", { x1: M.l, x2: W - M.r, y1: y(b), y2: y(b), class: "baseline" });
      svgEl(svg, "text", { x: M.l + 4, y: y(b) - 4, class: "label" }, "unmoderated: " + fmt(b));
    }
    const mx = num(res.marker.x);
    if (Number.isFinite(mk[0]) && !Number.isNaN(mx)) {
      const cx = x(mx);
      if (Number.isFinite(mk[1]) && Number.isFinite(mk[2])) {
        svgEl(svg, "line", { x1: cx, x2: cx, y1: y(mk[1]), y2: y(mk[2]), class: "whisker" });
      }
      svgEl(svg, "circle", { cx, cy: y(mk[0]), r: 6, class: "marker", "data-x": String(res.marker.x), "data-y": String(mk[0]) });
      const txt = "your setting" + (res.marker.how === "lever" ? "" : " (at its " + res.marker.how + ")");
      svgEl(svg, "text", { x: Math.min(cx + 8, W - 150), y: Math.max(y(mk[0]) - 8, M.t + 10), class: "label" }, txt);
    }
    svgEl(svg, "text", { x: 14, y: (M.t + H - M.b) / 2, transform: `rotate(-90 14 ${(M.t + H - M.b) / 2})`, "text-anchor": "middle", class: "label" },
      asPct ? "reach prevented" : "users reached per illegal post");
  }
  function short(x) {
    const f = num(x);
    if (f === 0) return "0";
    if (f < 1) return Math.round(f * 60) + "m";
    return f >= 24 && f % 24 === 0 ? f / 24 + "d" : f + "h";
  }
  function ttrFigure(svg, ttr) {
    svg.textContent = "";
    const n = ttr.share.length + 1;
    const shares = ttr.share.map(num).concat([num(ttr.never)]);
    const top = niceMax(Math.max(...shares.filter(Number.isFinite), 0.01));
    const y = linear(0, top, H - M.b, M.t);
    yAxis(svg, y, top, true);
    const bw = (W - M.l - M.r) / n;
    shares.forEach((s, i) => {
      const last = i === n - 1;
      const h = Number.isFinite(s) ? (H - M.b) - y(s) : 0;
      svgEl(svg, "rect", { x: M.l + i * bw + 2, y: (H - M.b) - h, width: bw - 4, height: h, class: last ? "bar never" : "bar" });
      const end = ttr.ends[i];
      const lab = last ? "never" : (num(end) === Infinity ? ">" + short(ttr.ends[i - 1]) : short(end));
      svgEl(svg, "text", { x: M.l + (i + 0.5) * bw, y: H - M.b + 14, "text-anchor": "middle" }, lab);
    });
    svgEl(svg, "text", { x: (M.l + W - M.r) / 2, y: H - 8, "text-anchor": "middle", class: "label" },
      `share of the ${ttr.posts} illegal posts removed within (bin's upper end); never removed: ${pct(ttr.never)}`);
  }
  function queueFigure(svg, q) {
    svg.textContent = "";
    const rows = [["notices reviewed within 24 h", q.notice_reviewed_24h_share], ["notices that led to removal", q.notice_removed_share],
      ["illegal posts removed", q.removed_share]].filter((r) => r[1]);
    const x = linear(0, 1, 190, W - M.r - 40);
    const g = svgEl(svg, "g", { class: "axis" });
    for (let i = 0; i <= 4; i++) {
      svgEl(g, "line", { x1: x(i / 4), x2: x(i / 4), y1: M.t, y2: H - M.b, class: "grid" });
      svgEl(g, "text", { x: x(i / 4), y: H - M.b + 14, "text-anchor": "middle" }, 25 * i + "%");
    }
    const bh = Math.min(46, (H - M.t - M.b) / rows.length);
    rows.forEach(([label, v], i) => {
      const [m, lo, hi] = v.map(num);
      const yy = M.t + i * bh + bh * 0.2;
      svgEl(svg, "text", { x: 184, y: yy + bh * 0.35, "text-anchor": "end" }, label);
      if (Number.isFinite(m)) svgEl(svg, "rect", { x: x(0), y: yy, width: x(m) - x(0), height: bh * 0.55, class: "bar" });
      if (Number.isFinite(lo) && Number.isFinite(hi)) svgEl(svg, "line", { x1: x(lo), x2: x(hi), y1: yy + bh * 0.27, y2: yy + bh * 0.27, class: "qwhisker" });
      svgEl(svg, "text", { x: x(Number.isFinite(m) ? m : 0) + 6, y: yy + bh * 0.38 }, pct(m));
    });
  }

  return { num, fmt, pct, hours, curveFigure, ttrFigure, queueFigure };
})();
