// spreadsim's what-if page: controls from the schema (GET /api/controls), results from the server
// (POST /api/evaluate), figures drawn here as SVG. The static export embeds a precomputed grid
// (a JSON script element) and the same code draws it, with no server.
"use strict";
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const state = {
    settings: {}, controls: null, seq: 0, rendered: 0, timer: null, abort: null, urls: [],
    tab: Math.random().toString(36).slice(2) + Date.now().toString(36), exportData: null,
  };

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
  function setStatus(text, busy) {
    $("status").textContent = text;
    document.body.classList.toggle("busy", !!busy);
  }

  // ------------------------------------------------------------------ controls
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      e.setAttribute(k, v === true ? "" : v);
    }
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function idOf(key) { return "c-" + key.replace(/[^A-Za-z0-9_-]/g, "-"); }
  function stopsFor(spec) {
    const grid = state.controls.grid;
    if (spec.key.endsWith(".latency_h")) return grid;
    if (spec.key.endsWith(".half_life_h")) return grid.filter((x) => num(x) > 0 && x !== "inf");
    return null;
  }
  function nearest(stops, value) {
    let best = 0, dist = Infinity;
    stops.forEach((s, i) => {
      const v = num(s), d = v === value ? -1 : Math.abs(v - value);
      if (d < dist) { dist = d; best = i; }
    });
    return best;
  }
  // the message for a value out of the schema's range, before anything is sent
  function localCheck(spec, raw) {
    if (spec.kind !== "number" && spec.kind !== "integer") return null;
    const rule = "must be " + (/^integer/.test(spec.allowed) ? "an " : "") + spec.allowed;  // (the schema's words)
    if (raw === "inf") return spec.allow_inf ? null : `${spec.key} = inf: ${rule}`;
    if (raw === null) return spec.nullable ? null : `${spec.key} is required: ${rule}`;
    const x = Number(raw);
    const bad = !Number.isFinite(x) || (spec.kind === "integer" && !Number.isInteger(x))
      || (spec.min !== null && spec.min !== undefined && (x < spec.min || (spec.lo_open && x === spec.min)))
      || (spec.max !== null && spec.max !== undefined && (x > spec.max || (spec.hi_open && x === spec.max)));
    return bad ? `${spec.key} = ${raw}: ${rule}` : null;
  }
  function showError(key, message) {
    const box = document.querySelector(`.control[data-key="${CSS.escape(key)}"]`);
    if (!box) { $("page-error").textContent = message; $("page-error").hidden = false; return; }
    box.classList.add("bad");
    const p = box.querySelector(".error");
    p.textContent = message;
    p.hidden = false;
  }
  function clearErrors() {
    document.querySelectorAll(".control.bad").forEach((b) => {
      b.classList.remove("bad");
      b.querySelector(".error").hidden = true;
    });
    $("page-error").hidden = true;
  }
  function change(key, value) {
    state.settings[key] = value;
    schedule(80);
  }

  function control(spec, onChange) {
    const box = el("div", { class: "control", "data-key": spec.key });
    const id = idOf(spec.key);
    const label = el("label", { for: id }, spec.label + " ");
    if (spec.unit) label.appendChild(el("span", { class: "unit" }, "(" + spec.unit + ")"));
    box.appendChild(label);
    const value = state.settings[spec.key];
    const title = "allowed: " + (spec.allowed || "");
    const err = el("p", { class: "error", hidden: true });
    const commit = onChange || ((v) => change(spec.key, v));
    function set(v) {
      const msg = localCheck(spec, v);
      err.hidden = !msg;
      box.classList.toggle("bad", !!msg);
      if (msg) { err.textContent = msg; return; }
      commit(v);
    }
    if (spec.kind === "number" || spec.kind === "integer") {
      const row = el("div", { class: "row" });
      const stops = stopsFor(spec);
      const isProb = spec.kind === "number" && spec.min === 0 && spec.max === 1;
      let slider = null;
      if (stops) {
        slider = el("input", { type: "range", min: 0, max: stops.length - 1, step: 1, "aria-label": spec.label,
          id: id + "-slider", value: nearest(stops, num(value)) });
      } else if (isProb && /removal_prob$/.test(spec.key)) {
        slider = el("input", { type: "range", min: 0, max: 1, step: 0.01, "aria-label": spec.label,
          id: id + "-slider", value: num(value) });
      }
      const input = el("input", { type: "number", id, title, step: spec.kind === "integer" ? 1 : "any",
        min: spec.min, max: spec.max, value: value === "inf" || value === null ? "" : value });
      const never = spec.allow_inf ? el("input", { type: "checkbox", id: id + "-never", checked: value === "inf" }) : null;
      const read = () => (never && never.checked ? "inf" : (input.value === "" ? null : Number(input.value)));
      input.addEventListener("change", () => {
        if (never && input.value !== "") never.checked = false;
        if (slider && stops) slider.value = nearest(stops, num(read()));
        else if (slider) slider.value = input.value;
        set(read());
      });
      if (slider) {
        slider.addEventListener("input", () => {
          const v = stops ? stops[Number(slider.value)] : Number(slider.value);
          if (never) never.checked = v === "inf";
          input.value = v === "inf" ? "" : v;
          set(v === "inf" ? "inf" : num(v));
        });
        row.appendChild(slider);
      }
      row.appendChild(input);
      if (never) {
        never.addEventListener("change", () => {
          if (slider && stops) slider.value = never.checked ? stops.length - 1 : nearest(stops, num(input.value));
          set(read());
        });
        const nl = el("label", { class: "never", for: id + "-never" }, " never");
        nl.prepend(never);
        row.appendChild(nl);
      }
      box.appendChild(row);
    } else if (spec.kind === "boolean") {
      const input = el("input", { type: "checkbox", id, title, checked: !!value });
      input.addEventListener("change", () => set(input.checked));
      box.appendChild(input);
    } else if (spec.kind === "choice") {
      const input = el("select", { id, title });
      for (const o of spec.options) input.appendChild(el("option", { value: o, selected: o === value }, o));
      input.addEventListener("change", () => set(input.value));
      box.appendChild(input);
    } else {  // text, or a YAML value (a duration, a mapping)
      const input = el("input", { type: "text", id, title, value: value === null ? "" : value, spellcheck: "false" });
      input.addEventListener("change", () => set(spec.kind === "text" && input.value === "" ? null : input.value));
      box.appendChild(input);
    }
    box.appendChild(el("p", { class: "help" }, spec.help + (spec.kind === "yaml" ? " (YAML: " + spec.allowed + ")" : "")));
    box.appendChild(err);
    return box;
  }

  function group(root, title, help) {
    const fs = el("fieldset");
    fs.appendChild(el("legend", {}, title));
    if (help) fs.appendChild(el("p", { class: "group-help" }, help));
    root.appendChild(fs);
    return fs;
  }

  function buildControls() {
    const c = state.controls;
    const root = $("controls");
    root.textContent = "";
    // the world
    const world = group(root, "World", "the social graph; arc u -> v: v sees what u shares");
    const kinds = el("div", { class: "kind-fields" });
    world.appendChild(control(c.graph.kind, (kind) => {
      for (const k of Object.keys(state.settings)) if (k.startsWith("graph.") && k !== "graph.kind") delete state.settings[k];
      state.settings["graph.kind"] = kind;
      for (const s of c.graph.kinds[kind]) state.settings[s.key] = s.default;
      renderKind();
      schedule(80);
    }));
    world.appendChild(kinds);
    function renderKind() {
      kinds.textContent = "";
      const kind = state.settings["graph.kind"];
      kinds.appendChild(el("p", { class: "group-help" }, c.graph.kind.docs[kind] || ""));
      for (const s of c.graph.kinds[kind]) kinds.appendChild(control(s));
    }
    renderKind();
    // the content
    const content = group(root, "Content", "the campaign of illegal posts and the legal background");
    for (const s of c.scenario.controls) content.appendChild(control(s));
    content.appendChild(el("p", { class: "group-help" }, "category mix: " + c.scenario.help));
    for (const cat of c.scenario.categories) {
      const box = el("div", { class: "policy" });
      box.appendChild(el("b", {}, cat.name.replace(/_/g, " ")));
      for (const s of cat.controls) box.appendChild(control(s));
      content.appendChild(box);
    }
    // the policy stack
    const stack = group(root, "Policy stack", "a pre-decided removal first, then the policies switched on, in this order");
    const bodies = {};
    stack.appendChild(control(c.deadline, (v) => { state.settings.deadline = v; showDeadline(); schedule(80); }));
    for (const p of c.deadline.policies) {
      const box = el("div", { class: "policy on", "data-policy": p.name });
      box.appendChild(el("p", { class: "group-help" }, p.doc));
      for (const s of p.controls) box.appendChild(control(s));
      bodies[p.name] = box;
      stack.appendChild(box);
    }
    function showDeadline() {
      for (const [name, box] of Object.entries(bodies)) box.hidden = state.settings.deadline !== name;
    }
    showDeadline();
    for (const p of c.stack) {
      const box = el("div", { class: "policy" + (state.settings[p.key] ? " on" : ""), "data-policy": p.name });
      const sw = el("input", { type: "checkbox", id: idOf(p.key), checked: !!state.settings[p.key] });
      const lab = el("label", { class: "switch", for: idOf(p.key) }, p.name.replace(/_/g, " "));
      lab.prepend(sw);
      box.appendChild(lab);
      const body = el("div", { class: "body", hidden: !state.settings[p.key] });
      body.appendChild(el("p", { class: "group-help" }, p.doc));
      for (const s of p.controls) body.appendChild(control(s));
      box.appendChild(body);
      sw.addEventListener("change", () => {
        body.hidden = !sw.checked;
        box.classList.toggle("on", sw.checked);
        change(p.key, sw.checked);
      });
      stack.appendChild(box);
    }
    const run = group(root, "Seeds", "paired seeds: every setting runs the same seeds, with its unmoderated twin");
    for (const s of c.run.controls) run.appendChild(control(s));
  }

  // ------------------------------------------------------------------ requests
  function schedule(delay) {
    clearTimeout(state.timer);
    setStatus("computing\u2026", true);
    state.timer = setTimeout(evaluate, delay);
  }
  function evaluate() {
    const seq = ++state.seq;
    if (state.abort) state.abort.abort();
    const ctl = new AbortController();
    state.abort = ctl;
    const t0 = performance.now();
    setStatus("computing\u2026", true);
    fetch("/api/evaluate", {
      method: "POST", headers: { "Content-Type": "application/json" }, signal: ctl.signal,
      body: JSON.stringify({ tab: state.tab, seq, settings: state.settings }),
    }).then((r) => r.json().then((body) => ({ status: r.status, body })))
      .then(({ status, body }) => {
        if (seq !== state.seq || status === 409) return;  // an answer to an older change
        clearErrors();
        if (status >= 400) {
          showError(body.control || "", body.error || "error " + status);
          setStatus("not computed: " + (body.error || status), false);
          return;
        }
        render(body);
        const ms = performance.now() - t0;
        setStatus(`updated in ${(ms / 1000).toFixed(2)} s (${body.path} path, server ${body.seconds.toFixed(2)} s)`, false);
        document.body.dataset.renderedSeq = String(seq);
      })
      .catch((e) => {
        if (e.name === "AbortError" || seq !== state.seq) return;
        setStatus("the server did not answer: " + e, false);
      });
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

  function download(a, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    state.urls.push(url);
    a.href = url;
  }
  function render(res) {
    state.urls.forEach((u) => URL.revokeObjectURL(u));
    state.urls = [];
    const s = res.summary;
    $("answer").textContent = res.sentence;
    const fig = $("figures");
    fig.textContent = "";
    const reach = el("b", { id: "reach", "data-value": String(s.reach_mean) }, fmt(s.reach_mean));
    fig.append(reach, ` users per illegal post (95% CI ${fmt(s.reach_ci_low)} to ${fmt(s.reach_ci_high)}), `,
      el("b", { id: "prevented", "data-value": String(s.prevented_share) }, pct(s.prevented_share)),
      ` of the reach prevented (95% CI ${pct(s.prevented_share_ci_low)} to ${pct(s.prevented_share_ci_high)}); `,
      `${s.n_seeds} seeds; ${res.stack}.`);
    document.querySelectorAll(".lever-name").forEach((e) => { e.textContent = res.curve.lever.endsWith("half_life_h") ? "removal half-life" : "removal latency"; });
    curveFigure($("svg-reach"), res, "reach");
    curveFigure($("svg-prevented"), res, "prevented");
    ttrFigure($("svg-ttr"), res.ttr);
    $("fig-queue").hidden = !res.queue;
    if (res.queue) queueFigure($("svg-queue"), res.queue);
    if (res.command) {
      $("command").textContent = res.command;
      $("yaml").textContent = res.yaml;
      download($("dl-yaml"), res.yaml, "application/yaml");
      download($("dl-summary"), res.csv.summary, "text/csv");
      download($("dl-results"), res.csv.results, "text/csv");
    }
    $("reproduce").hidden = !res.command;
  }

  // ------------------------------------------------------------------ the static export
  function initExport() {
    const d = state.exportData;
    const root = $("controls");
    root.textContent = "";
    const fs = group(root, "Precomputed grid", `a static export of spreadsim ${d.version}: ${d.points.length} settings computed in advance; the sliders move over them, with no server`);
    const idx = d.grid.map((g) => {
      const i = g.values.findIndex((v) => String(v) === String(d.settings[g.key]));
      return i >= 0 ? i : g.values.length - 1;
    });
    const show = () => {
      let k = 0;
      d.grid.forEach((g, i) => { k = k * g.values.length + idx[i]; });
      render(d.points[k]);
      document.body.dataset.renderedSeq = String(++state.seq);
      setStatus(`static export: setting ${k + 1} of ${d.points.length}`, false);
    };
    d.grid.forEach((g, i) => {
      const spec = d.levers[g.key] || { label: g.key, help: "" };
      const box = el("div", { class: "control", "data-key": g.key });
      const id = idOf(g.key) + "-slider";
      const out = el("output", { for: id }, hours(g.values[idx[i]]));
      const fmtv = (v) => (spec.unit === "hours" ? hours(v) : String(v));
      out.textContent = fmtv(g.values[idx[i]]);
      const lab = el("label", { for: id }, spec.label + (spec.unit ? " (" + spec.unit + ")" : "") + ": ");
      lab.appendChild(out);
      const slider = el("input", { type: "range", id, min: 0, max: g.values.length - 1, step: 1, value: idx[i], "aria-label": spec.label });
      slider.addEventListener("input", () => { idx[i] = Number(slider.value); out.textContent = fmtv(g.values[idx[i]]); show(); });
      box.append(lab, slider, el("p", { class: "help" }, (spec.help || "") + " (grid: " + g.values.map(fmtv).join(", ") + ")"));
      fs.appendChild(box);
    });
    const fixed = el("details", {});
    fixed.appendChild(el("summary", {}, "the other settings"));
    fixed.appendChild(el("pre", {}, Object.entries(d.settings).filter(([k]) => !d.grid.some((g) => g.key === k)).map(([k, v]) => `${k}: ${v}`).join("\n")));
    root.appendChild(fixed);
    show();
  }

  function init() {
    const embedded = document.getElementById("spreadsim-export");
    if (embedded) {
      state.exportData = JSON.parse(embedded.textContent);
      initExport();
      return;
    }
    fetch("/api/controls").then((r) => r.json()).then((d) => {
      state.controls = d.controls;
      state.settings = Object.assign({}, d.initial);
      buildControls();
      schedule(0);
    }).catch((e) => setStatus("cannot load the controls: " + e, false));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
