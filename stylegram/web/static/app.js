// The studio page: pictures, masks, settings, the live job, history. No build step, no CDN.
import { FINISHED, follow, getJSON, postForm, postJSON, remove } from "./api.js";
import { MaskPainter, TINTS } from "./mask.js";
import { LossPlot } from "./plot.js";
import { clearExplorerNotice, initExplorer } from "./explorer.js";

const $ = (id) => document.getElementById(id);
const when = (job) => new Date(job.created * 1000).toLocaleTimeString();
// The StyleConfig fields a person touches, in this order; the rest keep the CLI's defaults.
const SHOWN = ["size", "quality", "iterations", "scales", "content_weight", "style_weight", "tv_weight",
  "style_scale", "preserve_colors", "seed", "optimizer", "pooling", "init",
  "photorealistic", "photo_weight", "photo_smooth"];
// Photo to photo's segmentations: the form field and the input of each.
const SEGMENTATIONS = { content_seg: "content-seg", style_seg: "style-seg" };
const state = { photo: null, paintings: [], segmentations: {}, fields: {}, job: null, source: null };
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
    if (name === "init") {  // a file path is the CLI's alone
      f.choices = ["content", "random"];
      f.help = "start from the photo ('content') or from random noise";
      label.title = f.help;
    }
    if (f.type === "bool") {  // a flag: on or off
      input = Object.assign(document.createElement("input"), { type: "checkbox", checked: f.default === true });
      input.addEventListener("change", showCommand);
    } else if (f.choices) {
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

// The settings that differ from the CLI's defaults, typed as StyleConfig wants them. An
// integer keeps its digits (a BigInt): a Number rounds those above 2^53, as the largest seed.
function settings() {
  const out = {};
  for (const [name, f] of Object.entries(state.fields)) {
    if (f.type === "bool") {
      if ($(`f-${name}`).checked !== f.default) out[name] = $(`f-${name}`).checked;
      continue;
    }
    const raw = $(`f-${name}`).value;
    if (raw === "") continue;
    const value = f.choices ? raw : f.type === "int" && /^-?\d+$/.test(raw) ? BigInt(raw) : Number(raw);
    if (f.default === null || String(value) !== String(f.default)) out[name] = value;
  }
  const blend = state.paintings.map((p) => Number(p.blend.value));
  if (blend.some((w) => w !== blend[0])) out.style_blend = blend;  // all equal is the default
  return out;
}

// The settings as JSON, integers written with all their digits (JSON.stringify refuses BigInts).
function configJSON(values) {
  const text = (v) => (typeof v === "bigint" ? v.toString() : JSON.stringify(v));
  return `{${Object.entries(values).map(([k, v]) => `${JSON.stringify(k)}:${text(v)}`).join(",")}}`;
}

// The command these settings and pictures make, written by the server as it writes a job's
// (POST /api/command): one way to write it, and the settings checked as they are typed. The
// answer to the latest request wins; an earlier one arriving late is dropped.
let asked = 0;

// The one writer of the command shown: its text, and whether it is a refusal instead.
function setCommand(text, invalid = false) {
  $("command").textContent = text;
  if (invalid) $("command").dataset.invalid = "1"; else delete $("command").dataset.invalid;
}

async function showCommand() {
  const mine = ++asked;
  if (!state.paintings.length) { setCommand(""); return; }
  const body = `{"config":${configJSON(settings())},"content":${JSON.stringify(state.photo?.name || "photo.jpg")},`
    + `"styles":${JSON.stringify(state.paintings.map((p) => p.file.name))},"masks":${painter.painted},`
    + `"segmentations":${JSON.stringify(Object.keys(state.segmentations))}}`;
  let answer;
  try { answer = await postJSON("/api/command", body); } catch (e) { answer = { refused: e.message }; }
  const invalid = answer.refused !== undefined, text = invalid ? `settings: ${answer.refused}` : answer.command;
  if (mine === asked) setCommand(text, invalid);
}

// ---------------------------------------------------------------- pictures

// Resolves once the mask canvas has the photo's size (fresh, empty masks).
function setPhoto(file) {
  state.photo = file;
  const url = URL.createObjectURL(file);
  const ready = new Promise((resolve) => {
    $("mask-photo").onload = () => { painter.reset(state.paintings.length); resolve(); };
    $("mask-photo").onerror = () => { notice(`'${file.name}' is no image this browser can show`); resolve(); };
  });
  $("mask-photo").src = url; $("compare-photo").src = url;
  picturesChanged();
  return ready;
}

// Each painting: a radio button (its colour dot and name are its label) chooses the painting
// the brush paints for, with the mouse or the arrow keys; its blend weight; a remove button.
function addPaintings(files, blends = []) {
  for (const [k, file] of files.entries()) {
    const li = document.createElement("li");
    const pick = Object.assign(document.createElement("input"), { type: "radio", name: "painting" });
    const label = document.createElement("label");
    label.append(Object.assign(document.createElement("span"), { className: "swatch" }),
      Object.assign(document.createElement("span"), { className: "name", textContent: file.name }));
    const img = Object.assign(document.createElement("img"), { src: URL.createObjectURL(file), alt: "" });
    const blend = Object.assign(document.createElement("input"), { type: "range", min: 0, max: 1, step: 0.05, value: blends[k] ?? 1, className: "blend" });
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
  zone.addEventListener("drop", (e) => {
    e.preventDefault(); zone.classList.remove("over");
    input.files = e.dataTransfer.files;  // the input names what was dropped, not "No file chosen"
    take([...e.dataTransfer.files]);
  });
}

// ---------------------------------------------------------------- the job

async function start() {
  const form = new FormData();
  form.append("content", state.photo, state.photo.name);
  for (const p of state.paintings) form.append("style", p.file, p.file.name);
  const masks = await painter.blobs();
  (masks || []).forEach((blob, i) => form.append("mask", blob, `mask_${i}.png`));
  for (const [field, file] of Object.entries(state.segmentations)) form.append(field, file, file.name);
  form.append("config", configJSON(settings()));
  try {
    const { id } = await postForm("/api/jobs", form);
    notice(""); watch(id); loadHistory();
  } catch (e) { notice(e.message); }
}

// ---------------------------------------------------------------- a job is an address

// `/#job=<id>` is the job shown: a reload, another tab or a History entry opens it with its
// photo, paintings, masks and settings back in the controls, and its live picture and plot.
function jobInAddress() { return /^#job=([0-9a-f]{1,40})$/.exec(location.hash)?.[1] ?? null; }

async function fileOf(url, name) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${name}: ${response.status} ${response.statusText}`);
  return new File([await response.blob()], name, { type: "image/png" });
}

// A file input names files the page put there (a job's, read back), as it would the person's.
function holds(input, files) {
  const transfer = new DataTransfer();
  for (const file of files) transfer.items.add(file);
  input.files = transfer.files;
}

// The latest open wins: an earlier one still reading its files stops at its next step.
let opening = 0;

async function openJob(id) {
  if (state.job?.id === id && state.source) return;  // shown already (the address follows `watch`)
  const mine = ++opening, current = () => mine === opening;
  let job;
  try { job = await getJSON(`/api/jobs/${id}`); } catch (e) {
    if (current()) { notice(`job ${id}: ${e.message}`); history.replaceState(null, "", location.pathname); }
    return;
  }
  const files = `/api/jobs/${id}/files`, names = job.names || {};
  let photo, paintings, masks, segmentations;
  try {
    photo = await fileOf(`${files}/content.png`, names.content || "photo.png");
    paintings = await Promise.all(Array.from({ length: job.n_styles },
      (_, i) => fileOf(`${files}/style_${i}.png`, names.styles?.[i] || `painting_${i}.png`)));
    masks = job.masks ? await Promise.all(paintings.map((_, i) => fileOf(`${files}/mask_${i}.png`, `mask_${i}.png`))) : [];
    segmentations = job.segmentations ? await Promise.all(Object.keys(SEGMENTATIONS).map((f) => fileOf(`${files}/${f}.png`, `${f}.png`))) : [];
  } catch (e) {
    // Its settings and picture without its pictures would start another job than it: neither.
    if (current()) notice(`job ${id}: its pictures could not be read back (${e.message})`);
    return;
  }
  if (!current()) return;
  for (const p of state.paintings) p.li.remove();
  state.paintings = [];
  addPaintings(paintings, job.config.style_blend || []);
  await setPhoto(photo);
  for (const [i, mask] of masks.entries()) if (current()) await painter.load(mask, i);
  if (!current()) return;
  holds($("photo"), [photo]); holds($("paintings"), paintings);
  setSegmentations(segmentations);
  loadSettings(job.config);
  watch(id);
}

function watch(id) {
  state.source?.close();
  state.job = { id };
  if (jobInAddress() !== id) history.replaceState(null, "", `#job=${id}`);
  $("live").dataset.job = id;  // the compare slider and the plot show from now on
  for (const li of $("history").children) li.classList.toggle("shown", li.dataset.id === id);
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
  const finished = FINISHED.includes(j.state);
  $("cancel").disabled = finished;
  $("cancel").setAttribute("aria-label", `cancel the job shown, started ${when(j)}`);
  if (j.state === "done") {
    $("download").href = `/api/jobs/${j.id}/image?download=1`;
    $("download").setAttribute("download", `stylegram-${j.id}.png`);
    $("download").classList.remove("hidden");
  }
  // The job's own command, once when it is first shown (as its mask links): the settings typed
  // since are checked and shown as they change, not overwritten at every step.
  if (j.command && $("command").dataset.job !== j.id) {
    asked++;  // an answer still on its way is about the inputs before this job
    setCommand(j.command);
    $("command").dataset.job = j.id;
  }
  showMaskLinks(j);
  if (finished) loadHistory();
}

// A job's command names its masks and segmentations as files beside it: they download from here.
function showMaskLinks(j) {
  const links = $("mask-links");
  if (links.dataset.job === j.id) return;  // made once per job: a click or focus survives the steps
  links.dataset.job = j.id;
  const names = [...(j.masks ? Array.from({ length: j.n_styles || 0 }, (_, i) => `mask_${i}.png`) : []),
    ...(j.segmentations ? Object.keys(SEGMENTATIONS).map((f) => `${f}.png`) : [])];
  links.classList.toggle("hidden", !names.length);
  if (!names.length) return;
  links.replaceChildren("the files it names: ", ...names.map((name) =>
    Object.assign(document.createElement("a"), { href: `/api/jobs/${j.id}/files/${name}`, download: name, textContent: name })));
}

// The segmentations chosen (by field), or those of a job read back, in their inputs.
function setSegmentations(files) {
  state.segmentations = {};
  for (const [k, [field, id]] of Object.entries(SEGMENTATIONS).entries()) {
    if (files[k]) state.segmentations[field] = files[k];
    holds($(id), files[k] ? [files[k]] : []);
  }
  picturesChanged();
}

async function cancel() {
  if (!state.job) return;
  try { await remove(`/api/jobs/${state.job.id}`); } catch (e) { notice(e.message); }
}

async function copyCommand() {
  if ($("command").dataset.invalid) { notice($("command").textContent); return; }
  const text = $("command").textContent;
  try { await navigator.clipboard.writeText(text); notice("command copied"); } catch (e) {
    const range = document.createRange(); range.selectNodeContents($("command"));
    getSelection().removeAllRanges(); getSelection().addRange(range); notice("press Ctrl-C to copy the selected command");
  }
}

// ---------------------------------------------------------------- history

// Every job, newest first, each with its state and step as it runs: while any job is queued or
// running the list is read again each second, and its entries are updated in place (a button
// keeps its focus). The live panel follows one job; this follows them all.
let polling = null, listed = 0;

async function loadHistory() {
  const mine = ++listed;
  clearTimeout(polling);
  let jobs;
  try { ({ jobs } = await getJSON("/api/jobs")); } catch (e) {
    if (mine === listed) { notice(e.message); polling = setTimeout(loadHistory, 3000); }  // try again
    return;
  }
  if (mine !== listed) return;  // a later read is on its way, or done
  const list = $("history"), seen = new Set();
  for (const job of jobs.slice().reverse()) {
    seen.add(job.id);
    const li = list.querySelector(`li[data-id="${job.id}"]`) || newHistoryEntry(job);
    updateHistoryEntry(li, job);
    list.append(li);  // in order: existing entries move, none is rebuilt
  }
  for (const li of [...list.children]) if (!seen.has(li.dataset.id)) li.remove();
  if (jobs.some((j) => !FINISHED.includes(j.state))) polling = setTimeout(loadHistory, 1000);
}

function newHistoryEntry(job) {
  const li = document.createElement("li"); li.dataset.id = job.id;
  for (const src of [`/api/jobs/${job.id}/files/content.png`, `/api/jobs/${job.id}/files/style_0.png`]) {
    li.append(Object.assign(document.createElement("img"), { src, alt: "", loading: "lazy" }));
  }
  li.append(Object.assign(document.createElement("img"), { className: "result", alt: "" }),
    Object.assign(document.createElement("div"), { className: "what" }));
  const open = Object.assign(document.createElement("button"), { type: "button", textContent: "open", ariaLabel: `open the job of ${when(job)}` });
  open.addEventListener("click", () => openJob(job.id));
  const act = Object.assign(document.createElement("button"), { type: "button", className: "act" });
  act.addEventListener("click", async () => { await remove(`/api/jobs/${job.id}`).catch((e) => notice(e.message)); loadHistory(); });
  li.append(open, act);
  return li;
}

function updateHistoryEntry(li, job) {
  li.dataset.state = job.state;
  li.classList.toggle("shown", job.id === state.job?.id);
  const result = li.querySelector(".result");
  if (job.state === "done" || job.preview > 0) {
    const src = `/api/jobs/${job.id}/image?v=${job.preview}`;
    if (result.getAttribute("src") !== src) result.src = src;
  }
  const text = Object.entries(job.config).map(([k, v]) => `${k} ${v}`).join(", ") || "defaults";
  const where = job.state === "running" && job.steps ? ` · step ${job.step}/${job.steps}` : "";
  li.querySelector(".what").textContent = `${job.state}${where} · ${text}`;
  const verb = FINISHED.includes(job.state) ? "delete" : "cancel";
  const act = li.querySelector(".act");
  act.textContent = verb; act.ariaLabel = `${verb} the job of ${when(job)}`;
}

function loadSettings(config) {
  for (const [name, f] of Object.entries(state.fields)) {
    if (f.type === "bool") $(`f-${name}`).checked = config[name] ?? f.default;
    else $(`f-${name}`).value = config[name] ?? f.default ?? "";
  }
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
  for (const [field, id] of Object.entries(SEGMENTATIONS)) {
    $(id).addEventListener("change", (e) => {
      if (e.target.files[0]) state.segmentations[field] = e.target.files[0]; else delete state.segmentations[field];
      picturesChanged();
    });
  }
  $("clear-segs").addEventListener("click", () => setSegmentations([]));
  $("start").addEventListener("click", start);
  $("cancel").addEventListener("click", cancel);
  $("copy-command").addEventListener("click", copyCommand);
  $("compare-slider").addEventListener("input", (e) => { $("compare-clip").style.clipPath = `inset(0 ${100 - e.target.value}% 0 0)`; });
  await loadHistory();
  window.addEventListener("hashchange", () => { const id = jobInAddress(); if (id) openJob(id); });
  if (jobInAddress()) await openJob(jobInAddress());
  initExplorer(() => state.photo, () => state.paintings[0]?.file);
  document.body.dataset.ready = "1";
}

main().catch((e) => notice(e.message));
