// LAM explorer page: choose a window on the image, show each network's LAM.
"use strict";

const state = {
  config: null,
  image: null,         // {id, name, spec, width, height}
  picture: null,       // HTMLImageElement
  overlay: null,       // HTMLImageElement or null
  suggestions: [],     // [{top, left, size}]
  window: null,        // {top, left, size}, image pixels
  hover: null,
  drag: null,
  cards: new Map(),    // model name -> {element, key, state}
  history: new Map(),  // image id -> [{window, model, di}]
};

const $ = (selector, root = document) => root.querySelector(selector);

function showMessage(text) {
  const box = $("#message");
  box.textContent = text || "";
  box.hidden = !text;
}

// POST and DELETE carry the session's token: the server refuses them without it,
// so that no other web page can drive it.
function guarded(options = {}) {
  const method = (options.method || "GET").toUpperCase();
  if (method === "GET" || !state.config) return options;
  const headers = Object.assign({}, options.headers || {});
  headers[state.config.token_header] = state.config.token;
  return Object.assign({}, options, { headers });
}

async function api(url, options = {}) {
  const response = await fetch(url, guarded(options));
  let body = null;
  try { body = await response.json(); } catch (error) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    const failure = new Error(message);
    failure.status = response.status;
    throw failure;
  }
  return body;
}

function settings() {
  const form = $("#settings");
  return {
    steps: parseInt(form.steps.value, 10),
    method: form.method.value,
    sigma: parseFloat(form.sigma.value),
    kernel_size: parseInt(form.kernel_size.value, 10),
    detector: form.detector.value,
  };
}

function windowSize() { return parseInt($("#size").value, 10); }

// --- image and canvas --------------------------------------------------------

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`could not load ${url}`));
    image.src = url;
  });
}

async function setImage(info) {
  state.image = info;
  state.window = null;
  state.picture = await loadImage(`/api/images/${encodeURIComponent(info.id)}/picture.png`);
  const canvas = $("#picture");
  canvas.width = info.width;
  canvas.height = info.height;
  const zoom = Math.min(4, 600 / Math.max(info.width, info.height));
  canvas.style.width = `${Math.round(info.width * zoom)}px`;
  $("#image-text").textContent = `${info.name}: ${info.height}x${info.width} pixels (height x width). ` +
    "Windows are in this image's pixels (top, left, size).";
  $("#image-select").value = info.id;
  for (const card of state.cards.values()) resetCard(card);
  updateWindowText();
  await refreshGuides();
}

async function refreshGuides() {
  if (!state.image) return;
  const id = encodeURIComponent(state.image.id);
  const size = windowSize();
  state.overlay = null;
  if ($("#overlay").value === "texture") {
    state.overlay = await loadImage(`/api/images/${id}/texture.png?size=${size}`);
  }
  const found = await api(`/api/images/${id}/windows?size=${size}`);
  state.suggestions = found.windows;
  draw();
}

function lineWidth() {
  const canvas = $("#picture");
  const rect = canvas.getBoundingClientRect();
  return rect.width ? 2 * canvas.width / rect.width : 2;
}

function strokeWindow(ctx, w, color, dash) {
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = lineWidth();
  ctx.setLineDash(dash ? [4 * ctx.lineWidth, 3 * ctx.lineWidth] : []);
  ctx.strokeRect(w.left - 0.5, w.top - 0.5, w.size + 1, w.size + 1);
  ctx.restore();
}

function label(ctx, text, x, y, color) {
  const size = Math.max(9, 6 * lineWidth());
  ctx.save();
  ctx.font = `bold ${size}px sans-serif`;
  ctx.textBaseline = "bottom";
  const width = ctx.measureText(text).width;
  ctx.fillStyle = "rgba(0,0,0,0.6)";
  ctx.fillRect(x, y - size - 2, width + 4, size + 2);
  ctx.fillStyle = color;
  ctx.fillText(text, x + 2, y);
  ctx.restore();
}

function draw() {
  const canvas = $("#picture");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!state.picture) return;
  ctx.drawImage(state.picture, 0, 0);
  if (state.overlay) ctx.drawImage(state.overlay, 0, 0);
  state.suggestions.forEach((w, i) => {
    strokeWindow(ctx, w, "#4dd0e1", true);
    label(ctx, String(i + 1), w.left, w.top, "#4dd0e1");
  });
  const first = [...state.cards.keys()][0];
  for (const item of state.history.get(state.image.id) || []) {
    if (item.model !== first) continue;
    strokeWindow(ctx, item.window, "#ffd54f", false);
    label(ctx, `DI ${item.di.toFixed(2)} on ${item.input}`, item.window.left, item.window.top + item.window.size + 1 + 8 * lineWidth(), "#ffd54f");
  }
  if (state.hover && !state.drag) strokeWindow(ctx, state.hover, "white", true);
  if (state.drag && state.drag.window) strokeWindow(ctx, state.drag.window, "white", false);
  if (state.window) strokeWindow(ctx, state.window, "#ff1744", false);
}

function imagePoint(event) {
  const canvas = $("#picture");
  const rect = canvas.getBoundingClientRect();
  return {
    x: (event.clientX - rect.left) * canvas.width / rect.width,
    y: (event.clientY - rect.top) * canvas.height / rect.height,
  };
}

function clampWindow(top, left, size) {
  const limits = state.config.limits;
  size = Math.max(limits.window_min, Math.min(limits.window_max, Math.round(size)));
  size = Math.min(size, state.image.width, state.image.height);
  top = Math.max(0, Math.min(state.image.height - size, Math.round(top)));
  left = Math.max(0, Math.min(state.image.width - size, Math.round(left)));
  return { top, left, size };
}

function centredWindow(point) {
  const size = windowSize();
  return clampWindow(point.y - size / 2, point.x - size / 2, size);
}

function hitSuggestion(point) {
  return state.suggestions.find((w) => point.y >= w.top && point.y < w.top + w.size &&
    point.x >= w.left && point.x < w.left + w.size);
}

function setupCanvas() {
  const canvas = $("#picture");
  canvas.addEventListener("mousemove", (event) => {
    const point = imagePoint(event);
    if (state.drag) {
      const side = Math.max(Math.abs(point.x - state.drag.x), Math.abs(point.y - state.drag.y));
      if (side >= 4) {
        state.drag.window = clampWindow(Math.min(point.y, state.drag.y), Math.min(point.x, state.drag.x), side);
      }
    } else {
      state.hover = centredWindow(point);
    }
    draw();
  });
  canvas.addEventListener("mouseleave", () => { state.hover = null; draw(); });
  canvas.addEventListener("mousedown", (event) => {
    state.drag = { ...imagePoint(event), window: null };
  });
  window.addEventListener("mouseup", (event) => {
    if (!state.drag) return;
    const drag = state.drag;
    state.drag = null;
    if (drag.window) {
      $("#size").value = drag.window.size;
      $("#size-value").textContent = drag.window.size;
      chooseWindow(drag.window);
    } else if (event.target === canvas) {
      const point = imagePoint(event);
      const suggestion = hitSuggestion(point);
      chooseWindow(suggestion && suggestion.size === windowSize() ? suggestion : centredWindow(point));
    }
  });
}

function updateWindowText() {
  const text = $("#window-text");
  if (!state.window) {
    text.textContent = "No window yet: click the image (or drag a square). Numbered boxes are the most textured windows.";
    delete text.dataset.top;
    return;
  }
  const w = state.window;
  text.textContent = `Window top=${w.top} left=${w.left} size=${w.size} (image pixels)`;
  text.dataset.top = w.top;
  text.dataset.left = w.left;
  text.dataset.size = w.size;
}

function chooseWindow(w) {
  state.window = w;
  showMessage("");
  updateWindowText();
  draw();
  for (const card of state.cards.values()) submit(card);
}

// --- model cards ---------------------------------------------------------------

function modelInfo(name) { return state.config.models.find((m) => m.name === name); }

function addCard(name) {
  const element = $("#card-template").content.firstElementChild.cloneNode(true);
  const info = modelInfo(name);
  element.dataset.model = name;
  $(".model-name", element).textContent = name;
  const field = info.receptive_field === null ? "global receptive field" : `receptive field ${info.receptive_field} LR px`;
  $(".model-meta", element).textContent = `x${info.scale} · ${field} · ${info.kind}`;
  $(".colorbar", element).style.background = `linear-gradient(to right, ${state.config.colorbar.join(", ")})`;
  // matplotlib's seismic, the CEM figure's diverging map: blue hurts, red helps
  $(".cem-colorbar", element).style.background = "linear-gradient(to right, #00004d, #0000ff, #ffffff, #ff0000, #800000)";
  $(".copy", element).addEventListener("click", () => {
    navigator.clipboard && navigator.clipboard.writeText($(".command", element).textContent);
  });
  const card = { name, element, key: null, state: null };
  $(".method-choice", element).addEventListener("change", () => {
    if (card.key && card.state !== "done") fetch(`/api/lam/${card.key}`, { method: "DELETE" });
    if (state.window) submit(card);
  });
  state.cards.set(name, card);
  $("#cards").appendChild(element);
  if (state.window) submit(card);
}

function removeCard(name) {
  const card = state.cards.get(name);
  if (!card) return;
  if (card.key && card.state !== "done") fetch(`/api/lam/${card.key}`, guarded({ method: "DELETE" }));
  card.element.remove();
  state.cards.delete(name);
  draw();
}

function resetCard(card) {
  card.key = null;
  card.state = null;
  card.element.dataset.state = "";
  $(".result", card.element).hidden = true;
  $(".progress", card.element).hidden = true;
  $(".card-error", card.element).hidden = true;
  $(".command-row", card.element).hidden = true;
}

async function submit(card) {
  const w = state.window;
  resetCard(card);
  const method = $(".method-choice", card.element).value;
  const request = { model: card.name, image: state.image.id, window: w, settings: settings(), method };
  card.element.dataset.state = "sent";
  try {
    const job = await api("/api/lam", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    if (state.window !== w) return;  // superseded while sending
    card.key = job.key;
    show(card, job);
  } catch (error) {
    if (state.window !== w) return;
    card.state = "error";
    card.element.dataset.state = "error";
    const box = $(".card-error", card.element);
    box.textContent = error.message;
    box.hidden = false;
    showMessage(error.message);
  }
}

function show(card, job) {
  const el = card.element;
  card.state = job.state;
  el.dataset.state = job.state;
  $(".command", el).textContent = job.command;
  $(".command-row", el).hidden = false;
  const progress = $(".progress", el);
  if (job.state === "queued" || job.state === "running") {
    progress.hidden = false;
    const { done, total } = job.progress;
    $(".bar", progress).style.width = total ? `${100 * done / total}%` : "0";
    $(".progress-text", progress).textContent = job.state === "queued"
      ? "waiting…" : `computing… ${done}/${total || "?"} steps`;
    return;
  }
  progress.hidden = true;
  if (job.state === "error" || job.state === "cancelled") {
    const box = $(".card-error", el);
    box.textContent = job.state === "error" ? job.error : "cancelled";
    box.hidden = false;
    return;
  }
  const r = job.result;
  $(".panel-zoom", el).src = job.urls.zoom;
  $(".panel-whole", el).src = job.urls.whole;
  $(".panel-output", el).src = job.urls.output;
  $(".panel-hr", el).src = job.urls.hr;
  const di = $(".di", el);
  di.textContent = r.diffusion_index.toFixed(2);
  di.dataset.di = String(r.diffusion_index);
  const [lrH, lrW] = r.lr_size;
  const given = r.scale > 1 ? "LR input" : "input";
  $(".di-input", el).textContent = `on a ${lrH}x${lrW} ${given} (of 100)`;
  $(".mass", el).textContent = `50% in ${r.mass_area_50} LR px, 90% in ${r.mass_area_90}`;
  const cem = r.method === "cem";
  $(".delta", el).textContent = cem
    ? `effects ${r.effect.positive_db.toFixed(2)} to ${r.effect.negative_db.toFixed(2)} dB; ${r.effect.negative_area} LR px hurt, ${r.effect.positive_area} help`
    : `delta ${r.convergence_delta.toPrecision(3)} (${(100 * r.relative_convergence_delta).toPrecision(2)}% of the change)`;
  $(".delta", el).previousElementSibling.textContent = cem ? "causal effects" : "completeness";
  $(".colorbar-row", el).hidden = cem;
  $(".cem-colorbar-row", el).hidden = !cem;
  $(".time", el).textContent = `${r.seconds.toFixed(2)} s`;
  $(".download-figure", el).href = job.urls.figure;
  $(".download-map", el).href = job.urls.map;
  $(".result", el).hidden = false;
  const list = state.history.get(r.image.id) || [];
  if (!list.some((i) => i.model === r.model && i.window.top === r.window.top &&
    i.window.left === r.window.left && i.window.size === r.window.size)) {
    list.push({
      window: r.window, model: r.model, di: r.diffusion_index,
      input: `${r.lr_size[0]}x${r.lr_size[1]} ${r.scale > 1 ? "LR" : "input"}`,
    });
  }
  state.history.set(r.image.id, list);
  draw();
}

async function poll() {
  for (const card of state.cards.values()) {
    if (!card.key || !["queued", "running"].includes(card.state)) continue;
    const key = card.key;
    try {
      const job = await api(`/api/lam/${key}`);
      if (card.key === key) show(card, job);
    } catch (error) {
      if (card.key === key) { card.state = "error"; showMessage(error.message); }
    }
  }
  setTimeout(poll, 250);
}

// --- controls ------------------------------------------------------------------

function setupModels() {
  const box = $("#models");
  const groups = new Map();
  for (const m of state.config.models) {
    if (!groups.has(m.kind)) groups.set(m.kind, []);
    groups.get(m.kind).push(m);
  }
  for (const [kind, models] of groups) {
    const title = document.createElement("div");
    title.className = "group";
    title.textContent = kind;
    box.appendChild(title);
    for (const m of models) {
      const row = document.createElement("label");
      row.title = m.installed ? m.description : m.note;
      if (!m.installed) row.className = "unavailable";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = m.name;
      input.disabled = !m.installed;
      input.checked = state.config.selected.includes(m.name);
      input.addEventListener("change", () => (input.checked ? addCard(m.name) : removeCard(m.name)));
      row.append(input, ` ${m.name} `);
      const meta = document.createElement("span");
      meta.className = "small";
      meta.textContent = `x${m.scale}`;
      row.appendChild(meta);
      box.appendChild(row);
    }
  }
  for (const name of state.config.selected) addCard(name);
}

function setupSettings() {
  const form = $("#settings");
  for (const [name, values] of [["method", state.config.methods], ["detector", state.config.detectors]]) {
    for (const value of values) form[name].add(new Option(value, value));
  }
  for (const [name, value] of Object.entries(state.config.settings)) form[name].value = value;
  form.steps.max = state.config.limits.max_steps;
  let timer = null;
  form.addEventListener("change", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { if (state.window) chooseWindow(state.window); }, 300);
  });
  form.addEventListener("submit", (event) => event.preventDefault());
}

function addImageOption(info) {
  const select = $("#image-select");
  if ([...select.options].some((o) => o.value === info.id)) return;
  select.add(new Option(info.name + (info.id.startsWith("sample:") ? "" : " (yours)"), info.id));
}

function setupImages() {
  const select = $("#image-select");
  addImageOption(state.config.image);
  for (const id of state.config.samples) {
    if (id !== state.config.image.id) select.add(new Option(id.slice(7), id));
  }
  select.addEventListener("change", async () => {
    try { await setImage(await api(`/api/images/${encodeURIComponent(select.value)}`)); }
    catch (error) { showMessage(error.message); }
  });
  const limits = state.config.limits;
  $("#upload-limits").textContent = `PNG or JPEG, up to ${(limits.upload_max_bytes / 1e6).toFixed(0)} MB and ${limits.upload_max_side} px a side; kept in memory only.`;
  $("#upload").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    try {
      const info = await api("/api/images", { method: "POST", body: form });
      addImageOption(info);
      showMessage("");
      await setImage(info);
    } catch (error) {
      showMessage(error.message);
    }
    event.target.value = "";
  });
  let timer = null;
  $("#size").addEventListener("input", () => {
    $("#size-value").textContent = windowSize();
    clearTimeout(timer);
    timer = setTimeout(() => refreshGuides().catch((e) => showMessage(e.message)), 250);
  });
  $("#overlay").addEventListener("change", () => refreshGuides().catch((e) => showMessage(e.message)));
}

async function main() {
  try {
    state.config = await api("/api/config");
    const limits = state.config.limits;
    $("#size").min = limits.window_min;
    $("#size").max = limits.window_max;
    setupSettings();
    setupImages();
    setupCanvas();
    setupModels();
    await setImage(state.config.image);
    document.body.dataset.ready = "true";
  } catch (error) {
    showMessage(error.message);
  }
  poll();
}

main();
