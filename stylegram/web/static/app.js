// The studio page: pictures, masks, settings, the live job, history. No build step, no CDN.
import { follow, getJSON, postForm, remove } from "./api.js";
import { MaskPainter, TINTS } from "./mask.js";
import { LossPlot } from "./plot.js";
import { clearExplorerNotice, initExplorer } from "./explorer.js";

const $ = (id) => document.getElementById(id);
// The StyleConfig fields a person touches, in this order; the rest keep the CLI's defaults.
const SHOWN = ["size", "quality", "iterations", "scales", "content_weight", "style_weight", "tv_weight",
  "style_scale", "preserve_colors", "seed", "optimizer", "pooling", "init"];
const state = { photo: null, paintings: [], fields: {}, job: null, source: null };
const painter = new MaskPainter($("mask-canvas"), $("mask-photo"));
const plot = new LossPlot($("plot"));

function notice(text) { $("notice").textContent = text || ""; }

// ---------------------------------------------------------------- settings from the server

function buildControls(fields) {
  const form = $("settings");
  for (const name of SHOWN) {
    const f = fields.find((x) => x.name === name); if (!f) continue;
    state.fields[name] = f;
    const label = Object.assign(document.createElement("label"), { htmlFor: `f-${name}`, textContent: name.replaceAll("_", " "), title: f.help });
    let input;
    if (name === "init") f.choices = ["content", "random"];  // a file path is the CLI's alone
    if (f.choices) {
      input = document.createElement("select");
      for (const c of f.choices) input.append(new Option(c, c, false, c === f.default));
    } else {
      input = Object.assign(document.createElement("input"), { type: "number", step: "any" });
      if (f.type === "int") input.step = "1";
      if (f.min !== null) input.min = f.min;
      if (f.max !== null) input.max = f.max;
      if (f.default !== null) input.value = f.default; else input.placeholder = "default";
    }
    Object.assign(input, { id: `f-${name}`, name, title: f.help });
    input.addEventListener("input", showCommand);
    form.append(label, input);
  }
}

// The settings that differ from the CLI's defaults, typed as StyleConfig wants them.
function settings() {
  const out = {};
  for (const [name, f] of Object.entries(state.fields)) {
    const raw = $(`f-${name}`).value;
    if (raw === "") continue;
    const value = f.choices ? raw : Number(raw);
    if (value !== f.default) out[name] = value;
  }
  const blend = state.paintings.map((p) => Number(p.blend.value));
  if (blend.some((w) => w !== blend[0])) out.style_blend = blend;  // all equal is the default
  return out;
}

function quote(s) { return /^[\w./=-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`; }

function showCommand() {
  const parts = ["stylegram", "stylize", state.photo?.name || "photo.jpg", ...state.paintings.map((p) => p.file.name), "-o", "stylized.png"];
  for (const [name, value] of Object.entries(settings())) {
    parts.push(`--${name.replaceAll("_", "-")}`, ...(Array.isArray(value) ? value.map(String) : [String(value)]));
  }
  // One --style-masks with every painting's mask: the CLI takes the option's last use only.
  if (painter.painted) parts.push("--style-masks", ...state.paintings.map((p, i) => `${i}=mask_${i}.png`));
  $("command").textContent = parts.map(quote).join(" ");
}

// ---------------------------------------------------------------- pictures

function setPhoto(file) {
  state.photo = file;
  const url = URL.createObjectURL(file);
  $("mask-photo").onload = () => painter.reset(state.paintings.length);
  $("mask-photo").src = url; $("compare-photo").src = url;
  picturesChanged();
}

// Each painting: a radio button (its colour dot and name are its label) chooses the painting
// the brush paints for, with the mouse or the arrow keys; its blend weight; a remove button.
function addPaintings(files) {
  for (const file of files) {
    const li = document.createElement("li");
    const pick = Object.assign(document.createElement("input"), { type: "radio", name: "painting" });
    const label = document.createElement("label");
    label.append(Object.assign(document.createElement("span"), { className: "swatch" }),
      Object.assign(document.createElement("span"), { className: "name", textContent: file.name }));
    const img = Object.assign(document.createElement("img"), { src: URL.createObjectURL(file), alt: "" });
    const blend = Object.assign(document.createElement("input"), { type: "range", min: 0, max: 1, step: 0.05, value: 1, className: "blend" });
    blend.addEventListener("input", showCommand);
    const drop = Object.assign(document.createElement("button"), { type: "button", textContent: "×" });
    label.prepend(pick);
    li.append(img, label, blend, drop);
    const entry = { file, blend, li, pick, drop };
    pick.addEventListener("change", () => selectStyle(state.paintings.indexOf(entry)));
    img.addEventListener("click", () => selectStyle(state.paintings.indexOf(entry)));
    drop.addEventListener("click", () => {
      const i = state.paintings.indexOf(entry);
      state.paintings.splice(i, 1); li.remove(); painter.remove(i); picturesChanged();
    });
    state.paintings.push(entry);
    painter.add();
    $("styles").append(li);
  }
  picturesChanged();
}

function selectStyle(i) { painter.active = i; painter.draw(); refresh(); }

// The pictures changed: messages about them as they were are stale, and so are the last job's
// mask links (the command shown is the new pictures').
function picturesChanged() {
  notice(""); clearExplorerNotice();
  $("mask-links").classList.add("hidden"); delete $("mask-links").dataset.job;
  refresh();
}

function refresh() {
  state.paintings.forEach((p, i) => {
    const name = p.file.name;
    p.li.classList.toggle("active", i === painter.active);
    p.pick.checked = i === painter.active;
    p.pick.setAttribute("aria-label", `paint where ${name} goes`);
    p.li.querySelector(".swatch").style.background = TINTS[i % TINTS.length];
    p.blend.classList.toggle("hidden", state.paintings.length < 2);
    p.blend.setAttribute("aria-label", `blend weight of ${name}`);
    p.drop.setAttribute("aria-label", `remove ${name}`);
  });
  $("start").disabled = !(state.photo && state.paintings.length);
  showCommand();
}

function dropZone(zone, input, take) {
  input.addEventListener("change", () => take([...input.files]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); take([...e.dataTransfer.files]); });
}

// ---------------------------------------------------------------- the job

async function start() {
  const form = new FormData();
  form.append("content", state.photo, state.photo.name);
  for (const p of state.paintings) form.append("style", p.file, p.file.name);
  const masks = await painter.blobs();
  (masks || []).forEach((blob, i) => form.append("mask", blob, `mask_${i}.png`));
  form.append("config", JSON.stringify(settings()));
  try {
    const { id } = await postForm("/api/jobs", form);
    notice(""); watch(id);
  } catch (e) { notice(e.message); }
}

function watch(id) {
  state.source?.close();
  state.job = { id };
  plot.reset();
  $("preview").removeAttribute("src");
  delete $("preview").dataset.version;
  $("state").textContent = "starting…";
  $("state").dataset.state = "starting";
  $("download").classList.add("hidden");
  $("cancel").disabled = false;
  state.source = follow(id, (type, data) => {
    if (type === "snapshot") { show(data.job); plot.reset(data.history); return; }
    if (type === "progress") plot.add(data.step, data.losses);
    show({ ...state.job, ...(data.job || data), state: data.state });
  });
}

function show(job) {
  const previous = state.job?.preview;
  state.job = { ...state.job, ...job };
  const j = state.job;
  const eta = j.eta != null ? ` · about ${Math.ceil(j.eta)} s left` : "";
  const where = j.steps ? ` · step ${j.step}/${j.steps} · scale ${(j.scale ?? 0) + 1}/${j.n_scales} · ${j.size?.join("×")}` : "";
  $("state").textContent = `${j.state}${where}${j.state === "running" ? eta : ""}${j.error ? " · " + j.error : ""}`;
  if ($("state").dataset.state !== j.state) {  // said once per change, not at every step
    $("announce").textContent = `job ${j.state}${j.error ? ": " + j.error : ""}`;
  }
  $("state").dataset.state = j.state;
  if (j.preview && j.preview !== previous) {
    $("preview").src = `/api/jobs/${j.id}/image?v=${j.preview}`;
    $("preview").dataset.version = j.preview;
  }
  const finished = ["done", "failed", "cancelled", "interrupted"].includes(j.state);
  $("cancel").disabled = finished;
  if (j.state === "done") {
    $("download").href = `/api/jobs/${j.id}/image?download=1`;
    $("download").setAttribute("download", `stylegram-${j.id}.png`);
    $("download").classList.remove("hidden");
  }
  if (j.command) $("command").textContent = j.command;
  showMaskLinks(j);
  if (finished) loadHistory();
}

// A job's command names its masks as files beside it: they download from here.
function showMaskLinks(j) {
  const links = $("mask-links");
  if (links.dataset.job === j.id) return;  // made once per job: a click or focus survives the steps
  links.dataset.job = j.id;
  links.classList.toggle("hidden", !j.masks);
  if (!j.masks || !j.n_styles) return;
  links.replaceChildren("the masks it names: ", ...Array.from({ length: j.n_styles }, (_, i) => {
    const name = `mask_${i}.png`;
    return Object.assign(document.createElement("a"), { href: `/api/jobs/${j.id}/files/${name}`, download: name, textContent: name });
  }));
}

async function cancel() {
  if (!state.job) return;
  try { await remove(`/api/jobs/${state.job.id}`); } catch (e) { notice(e.message); }
}

async function copyCommand() {
  const text = $("command").textContent;
  try { await navigator.clipboard.writeText(text); notice("command copied"); } catch (e) {
    const range = document.createRange(); range.selectNodeContents($("command"));
    getSelection().removeAllRanges(); getSelection().addRange(range); notice("press Ctrl-C to copy the selected command");
  }
}

// ---------------------------------------------------------------- history

async function loadHistory() {
  const { jobs } = await getJSON("/api/jobs");
  const list = $("history"); list.replaceChildren();
  for (const job of jobs.slice().reverse()) {
    const li = document.createElement("li"); li.dataset.id = job.id; li.dataset.state = job.state;
    const thumbs = [`/api/jobs/${job.id}/files/content.png`, `/api/jobs/${job.id}/files/style_0.png`];
    if (job.state === "done" || job.preview > 0) thumbs.push(`/api/jobs/${job.id}/image?v=${job.preview}`);
    for (const src of thumbs) li.append(Object.assign(document.createElement("img"), { src, alt: "", loading: "lazy" }));
    const text = Object.entries(job.config).map(([k, v]) => `${k} ${v}`).join(", ") || "defaults";
    li.append(Object.assign(document.createElement("div"), { textContent: `${job.state} · ${text}` }));
    const when = new Date(job.created * 1000).toLocaleTimeString();
    const open = Object.assign(document.createElement("button"), { type: "button", textContent: "load settings", ariaLabel: `load the settings of the job of ${when}` });
    open.addEventListener("click", () => { loadSettings(job.config); watch(job.id); });
    const verb = job.state === "running" || job.state === "queued" ? "cancel" : "delete";
    const del = Object.assign(document.createElement("button"), { type: "button", textContent: verb, ariaLabel: `${verb} the job of ${when}` });
    del.addEventListener("click", async () => { await remove(`/api/jobs/${job.id}`).catch((e) => notice(e.message)); loadHistory(); });
    li.append(open, del);
    list.append(li);
  }
}

function loadSettings(config) {
  for (const [name, f] of Object.entries(state.fields)) $(`f-${name}`).value = config[name] ?? f.default ?? "";
  showCommand();
}

// ---------------------------------------------------------------- wiring

async function main() {
  const { fields } = await getJSON("/api/settings");
  buildControls(fields);
  dropZone($("photo-drop"), $("photo"), (files) => files[0] && setPhoto(files[0]));
  dropZone($("paintings-drop"), $("paintings"), addPaintings);
  for (const r of document.querySelectorAll("input[name=tool]")) r.addEventListener("change", () => { painter.tool = r.value; });
  $("brush-size").addEventListener("input", (e) => { painter.size = Number(e.target.value); });
  $("clear-mask").addEventListener("click", () => { painter.clear(); showCommand(); });
  $("mask-canvas").addEventListener("pointerup", showCommand);
  $("mask-file").addEventListener("change", async (e) => {
    if (e.target.files[0]) await painter.load(e.target.files[0]).catch((err) => notice(err.message));
    e.target.value = ""; showCommand();
  });
  $("start").addEventListener("click", start);
  $("cancel").addEventListener("click", cancel);
  $("copy-command").addEventListener("click", copyCommand);
  $("compare-slider").addEventListener("input", (e) => { $("compare-clip").style.clipPath = `inset(0 ${100 - e.target.value}% 0 0)`; });
  await loadHistory();
  initExplorer(() => state.photo, () => state.paintings[0]?.file);
  document.body.dataset.ready = "1";
}

main().catch((e) => notice(e.message));
