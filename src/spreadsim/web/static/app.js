// spreadsim's what-if page: controls from the schema (GET /api/controls), results from the server
// (POST /api/evaluate), drawn by figures.js (loaded first). The static export embeds a precomputed
// grid (a JSON script element) and the same code draws it, with no server.
"use strict";
(function () {
  const { num, fmt, pct, hours, curveFigure, ttrFigure, queueFigure } = window.SpreadsimFigures;
  const $ = (id) => document.getElementById(id);
  // the session's token (the address spreadsim app printed: /?token=...), sent with every request
  const TOKEN = new URLSearchParams(window.location.search).get("token") || "";
  const state = {
    settings: {}, controls: null, seq: 0, rendered: 0, timer: null, abort: null, urls: [],
    tab: Math.random().toString(36).slice(2) + Date.now().toString(36), exportData: null,
  };

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
      method: "POST", headers: { "Content-Type": "application/json", "X-Spreadsim-Token": TOKEN }, signal: ctl.signal,
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
    fetch("/api/controls", { headers: { "X-Spreadsim-Token": TOKEN } }).then((r) => r.json()).then((d) => {
      if (d.error) throw new Error(d.error);
      state.controls = d.controls;
      state.settings = Object.assign({}, d.initial);
      buildControls();
      schedule(0);
    }).catch((e) => setStatus("cannot load the controls: " + e, false));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
