// priorlab playground: controls <-> URL, one training session on the server, canvas views drawn by hand.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];
const RGB = [[31, 119, 180], [214, 39, 40], [44, 160, 44], [255, 127, 14], [148, 103, 189]];
const DEFAULTS = {
  view: "1d", act: "tanh", width: "10", depth: "1", regime: "full", lr: "", opt: "adam", seed: "0",
  target: "sin", noise: "0.1", n: "50", task: "spiral", classes: "2", noise2: "0.05", dataset: "",
};
const FIELDS = ["act", "width", "depth", "regime", "lr", "opt", "seed", "target", "noise", "n", "task", "classes", "noise2"];

const app = { id: null, state: null, playing: false, source: null, layer: 0, view: "1d", dataset: "", busy: false };
window.playground = app;

// ---------------------------------------------------------------- URL state
function readURL() {
  const q = new URLSearchParams(location.search);
  const s = {};
  for (const k of Object.keys(DEFAULTS)) s[k] = q.has(k) ? q.get(k) : DEFAULTS[k];
  return s;
}
function setup() {
  const s = { view: app.view, dataset: app.dataset };
  for (const k of FIELDS) s[k] = $(k).value.trim();
  return s;
}
function writeURL() {
  const s = setup(), q = new URLSearchParams();
  for (const k of Object.keys(DEFAULTS)) if (s[k] !== DEFAULTS[k]) q.set(k, s[k]);
  const url = location.pathname + (q.toString() ? "?" + q.toString() : "");
  history.replaceState(null, "", url);
}
function applySetup(s) {
  for (const k of FIELDS) $(k).value = s[k];
  app.dataset = s.dataset || "";
  setView(s.view === "2d" ? "2d" : "1d");
}
function configOf(s) {
  const num = (v) => Number(v);
  if (s.view === "1d") {
    const c = { activation: s.act, hidden: num(s.width), depth: num(s.depth), regime: s.regime, optimizer: s.opt,
      seed: num(s.seed), target: s.target, noise: num(s.noise), n_samples: num(s.n) };
    if (s.lr !== "") c.lr = num(s.lr);
    return { experiment: "fit1d", config: c };
  }
  const c = { activation: s.act, width: num(s.width), hidden_layers: num(s.depth), regime: s.regime,
    optimizer: s.opt, seed: num(s.seed), task: s.task, classes: num(s.classes), noise: num(s.noise2) };
  if (s.lr !== "") c.lr = num(s.lr);
  if (s.dataset) c.dataset = s.dataset;
  return { experiment: "fold", config: c };
}

// ---------------------------------------------------------------- server calls
async function api(method, path, body, raw) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    if (raw) { opts.body = body; opts.headers["Content-Type"] = "text/csv"; }
    else { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  }
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
  return data;
}
function message(text, ok) {
  $("message").textContent = text || "";
  $("message").className = ok ? "ok" : "";
}

async function newSession() {
  pause();
  const old = app.id;
  app.id = null;
  if (old) api("DELETE", `/api/sessions/${old}`).catch(() => {});
  writeURL();
  $("saved").textContent = "";
  try {
    const made = await api("POST", "/api/sessions", configOf(setup()));
    app.id = made.id;
    $("export").href = `/api/sessions/${made.id}/weights.safetensors`;
    message("");
    await refresh();
  } catch (e) {
    message(e.message);
  }
}
async function refresh() {
  if (!app.id) return;
  const layers = app.view === "2d" ? 1 : 0;
  draw(await api("GET", `/api/sessions/${app.id}/state?layers=${layers}`));
}
async function step() {
  if (!app.id || app.busy) return;
  pause();
  app.busy = true;
  try {
    await api("POST", `/api/sessions/${app.id}/step`, { steps: 10 });
    await refresh();
  } catch (e) {
    message(e.message);
  } finally {
    app.busy = false;
  }
}
function play() {
  if (!app.id) return;
  app.playing = true;
  $("play").textContent = "pause";
  const layers = app.view === "2d" ? 1 : 0;
  const es = new EventSource(`/api/sessions/${app.id}/stream?steps=10&layers=${layers}`);
  app.source = es;
  es.onmessage = (ev) => draw(JSON.parse(ev.data));
  es.addEventListener("stopped", (ev) => { message(JSON.parse(ev.data).error); pause(); });
  es.addEventListener("done", () => { pause(); play(); });
  es.onerror = () => { if (app.source === es) pause(); };
}
function pause() {
  if (app.source) app.source.close();
  app.source = null;
  app.playing = false;
  $("play").textContent = "play";
}

async function upload(file) {
  if (!file) return;
  try {
    const text = await file.text();
    const ds = await api("POST", "/api/data", text, true);
    app.dataset = ds.id;
    $("classes").value = String(ds.classes);
    setView("2d");
    message(`uploaded ${ds.rows} points, ${ds.classes} classes`, true);
    await newSession();
  } catch (e) {
    message(e.message);
  }
  $("csv").value = "";
}
async function save() {
  if (!app.id) return;
  pause();
  try {
    const run = await api("POST", `/api/sessions/${app.id}/save`);
    const a = document.createElement("a");
    a.href = run.report;
    a.textContent = `run ${run.run_id}`;
    a.id = "saved-link";
    a.target = "_blank";
    $("saved").replaceChildren("saved as ", a, " (priorlab runs lists it)");
  } catch (e) {
    message(e.message);
  }
}

// ---------------------------------------------------------------- drawing helpers
function ctxOf(id) {
  const c = $(id), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  return [c, g];
}
function scaler(lo, hi, a, b) { return (v) => a + ((v - lo) / (hi - lo || 1)) * (b - a); }
function extent(arrays, pad) {
  let lo = Infinity, hi = -Infinity;
  for (const a of arrays) for (const v of a) if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!isFinite(lo)) { lo = -1; hi = 1; }
  const p = (hi - lo || 1) * (pad || 0.08);
  return [lo - p, hi + p];
}
function line(g, xs, ys, sx, sy, color, width) {
  g.strokeStyle = color; g.lineWidth = width; g.beginPath();
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    if (ys[i] === null || !isFinite(ys[i])) { pen = false; continue; }
    const X = sx(xs[i]), Y = sy(ys[i]);
    if (pen) g.lineTo(X, Y); else g.moveTo(X, Y);
    pen = true;
  }
  g.stroke();
}
function axes(g, c, sx, sy, xr, yr) {
  g.strokeStyle = "#ccd"; g.lineWidth = 1; g.fillStyle = "#667"; g.font = "11px sans-serif";
  if (yr[0] < 0 && yr[1] > 0) { g.beginPath(); g.moveTo(0, sy(0)); g.lineTo(c.width, sy(0)); g.stroke(); }
  g.fillText(xr[0].toFixed(1), 4, c.height - 4);
  g.fillText(xr[1].toFixed(1), c.width - 32, c.height - 4);
  g.fillText(yr[1].toFixed(2), 4, 12);
}

// ---------------------------------------------------------------- views
function draw(s) {
  app.state = s;
  $("step-count").textContent = String(s.step);
  $("loss-value").textContent = s.loss === null ? "–" : s.loss.toPrecision(4);
  $("metrics").textContent = Object.entries(s.metrics || {})
    .filter(([k]) => !k.startsWith("fourier"))
    .map(([k, v]) => `${k} ${v === null ? "–" : Number(v).toPrecision(3)}`).join(" · ");
  if (s.stopped) message(s.stopped);
  drawLoss(s.losses);
  if (s.experiment === "fit1d") { drawFit(s); drawContrib(s); drawFourier(s.fourier); }
  else { drawRegions(s); drawLayer(s); }
}
function drawLoss(h) {
  const [c, g] = ctxOf("loss");
  const ys = h.loss.map((v) => (v > 0 ? Math.log10(v) : null));
  if (!ys.length) return;
  const xr = [0, Math.max(1, h.step[h.step.length - 1])], yr = extent([ys]);
  const sx = scaler(xr[0], xr[1], 30, c.width - 8), sy = scaler(yr[0], yr[1], c.height - 16, 8);
  line(g, h.step, ys, sx, sy, "#23395d", 1.5);
  g.fillStyle = "#667"; g.font = "11px sans-serif";
  g.fillText(`log10 loss ${yr[1].toFixed(1)}`, 32, 14); g.fillText(yr[0].toFixed(1), 2, c.height - 18);
  g.fillText(`step ${xr[1]}`, c.width - 70, c.height - 4);
}
function drawFit(s) {
  const [c, g] = ctxOf("fit");
  const xr = [s.x[0], s.x[s.x.length - 1]];
  const yr = extent([s.target, s.samples.y], 0.25);
  const sx = scaler(xr[0], xr[1], 0, c.width), sy = scaler(yr[0], yr[1], c.height, 0);
  g.fillStyle = "#eeeeee"; g.fillRect(0, 0, c.width, c.height);
  g.fillStyle = "#fff8d6"; g.fillRect(sx(s.train_range[0]), 0, sx(s.train_range[1]) - sx(s.train_range[0]), c.height);
  axes(g, c, sx, sy, xr, yr);
  line(g, s.x, s.target, sx, sy, "#999", 2.5);
  g.fillStyle = "#111";
  for (let i = 0; i < s.samples.x.length; i++) {
    g.beginPath(); g.arc(sx(s.samples.x[i]), sy(s.samples.y[i]), 2.5, 0, 7); g.fill();
  }
  g.save(); g.beginPath(); g.rect(0, 0, c.width, c.height); g.clip();
  line(g, s.x, s.output, sx, sy, "#d62728", 2.5);
  g.restore();
}
function drawContrib(s) {
  const [c, g] = ctxOf("contrib");
  const xr = [s.x[0], s.x[s.x.length - 1]];
  const yr = extent([...s.contributions, s.output].slice(0, 65), 0.05);
  const sx = scaler(xr[0], xr[1], 0, c.width), sy = scaler(yr[0], yr[1], c.height, 0);
  g.fillStyle = "#fff8d6"; g.fillRect(sx(s.train_range[0]), 0, sx(s.train_range[1]) - sx(s.train_range[0]), c.height);
  axes(g, c, sx, sy, xr, yr);
  s.contributions.forEach((u, i) => line(g, s.x, u, sx, sy, `hsl(${(i * 47) % 360},65%,50%)`, 1));
  line(g, s.x, s.output, sx, sy, "#111", 2);
}
function drawFourier(rows) {
  $("fourier-box").hidden = !rows;
  if (!rows) return;
  const fmt = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(3));
  $("fourier").tBodies[0].replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    for (const v of [r.term, fmt(r.frequency), fmt(r.phase), fmt(r.amplitude)]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    return tr;
  }));
}
function drawRegions(s) {
  const [c, g] = ctxOf("regions");
  const n = s.grid, [lo, hi] = s.window, cell = c.width / n;
  const img = g.createImageData(c.width, c.height);
  for (let py = 0; py < c.height; py++) {
    const j = n - 1 - Math.min(n - 1, Math.floor(py / cell));
    for (let px = 0; px < c.width; px++) {
      const i = Math.min(n - 1, Math.floor(px / cell)), k = j * n + i;
      const rgb = RGB[s.region[k] % 5], a = 0.15 + 0.5 * ((s.confidence[k] - 1 / s.classes) / (1 - 1 / s.classes));
      const o = (py * c.width + px) * 4;
      img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255 * a;
    }
  }
  g.putImageData(img, 0, 0);
  const sx = scaler(lo, hi, 0, c.width), sy = scaler(lo, hi, c.height, 0);
  points(g, s.points, s.labels, sx, sy, []);
}
function points(g, pts, labels, sx, sy, dead) {
  g.lineWidth = 0.8;
  for (let i = 0; i < pts.length; i++) {
    g.fillStyle = COLORS[labels[i] % 5]; g.strokeStyle = "#fff";
    g.beginPath(); g.arc(sx(pts[i][0]), sy(pts[i][1]), 3, 0, 7); g.fill(); g.stroke();
  }
  g.strokeStyle = "#000"; g.lineWidth = 1.5;
  for (const i of dead) {
    const X = sx(pts[i][0]), Y = sy(pts[i][1]);
    g.beginPath(); g.moveTo(X - 4, Y - 4); g.lineTo(X + 4, Y + 4); g.moveTo(X + 4, Y - 4); g.lineTo(X - 4, Y + 4); g.stroke();
  }
}
function drawLayer(s) {
  if (!s.layers) return;
  app.layer = Math.max(0, Math.min(app.layer, s.layers.length - 1));
  const L = s.layers[app.layer];
  const [c, g] = ctxOf("layer");
  const xs = L.points.map((p) => p[0]).concat(L.lines.flat().map((p) => p[0]));
  const ys = L.points.map((p) => p[1]).concat(L.lines.flat().map((p) => p[1]));
  const xr = extent([xs]), yr = extent([ys]);
  const sx = scaler(xr[0], xr[1], 4, c.width - 4), sy = scaler(yr[0], yr[1], c.height - 4, 4);
  L.lines.forEach((ln, i) => line(g, ln.map((p) => p[0]), ln.map((p) => p[1]), sx, sy,
    i < L.lines.length / 2 ? "rgba(90,110,150,.35)" : "rgba(150,110,90,.35)", 1));
  points(g, L.points, s.labels, sx, sy, L.dead);
  $("layer-name").textContent = `${app.layer + 1}/${s.layers.length} ${L.name}`;
  $("layer-info").textContent = `${L.units} units, drawn as ${L.axes.join(" × ")}` +
    (L.dead.length ? ` · ${L.dead.length} dead points (×)` : "");
}

// ---------------------------------------------------------------- wiring
function setView(v) {
  app.view = v;
  document.body.className = `view-${v}`;
  $("tab-1d").classList.toggle("active", v === "1d");
  $("tab-2d").classList.toggle("active", v === "2d");
  $("dataset-info").textContent = app.dataset ? `using uploaded data ${app.dataset}` : "";
  $("dataset-clear").hidden = !app.dataset;
}
async function init() {
  try {
    const info = await api("GET", "/api/experiments");
    $("regime").replaceChildren(...info.regimes.map((r) => new Option(r, r)));
  } catch (e) {
    message(e.message);
  }
  applySetup(readURL());
  for (const k of FIELDS) $(k).addEventListener("change", newSession);
  for (const t of ["tab-1d", "tab-2d"]) $(t).addEventListener("click", (ev) => { setView(ev.target.dataset.view); newSession(); });
  $("play").addEventListener("click", () => (app.playing ? pause() : play()));
  $("step").addEventListener("click", step);
  $("reset").addEventListener("click", newSession);
  $("save").addEventListener("click", save);
  $("csv").addEventListener("change", (ev) => upload(ev.target.files[0]));
  $("dataset-clear").addEventListener("click", () => { app.dataset = ""; setView("2d"); newSession(); });
  $("layer-prev").addEventListener("click", () => { app.layer -= 1; if (app.state) drawLayer(app.state); });
  $("layer-next").addEventListener("click", () => { app.layer += 1; if (app.state) drawLayer(app.state); });
  await newSession();
  document.body.dataset.ready = "1";
}
init();
