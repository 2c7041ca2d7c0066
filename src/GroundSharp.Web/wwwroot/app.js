'use strict';
// The GroundSharp demo page: sends an image (upload or bundled sample) and phrases to /api/ground and draws each
// phrase's heatmap over the image on a canvas, so the opacity slider re-blends without asking the server again.

const el = (id) => document.getElementById(id);
const state = { source: null, bitmap: null, results: [] };

// Jet colour map (blue → cyan → yellow → red), the same formula as the server's HeatmapOverlay.
const JET = (() => {
  const lut = new Uint8ClampedArray(256 * 3);
  const clamp = (v) => Math.min(1, Math.max(0, v));
  for (let i = 0; i < 256; i++) {
    const v = i / 255;
    lut[3 * i] = Math.floor(clamp(1.5 - Math.abs(4 * v - 3)) * 255);
    lut[3 * i + 1] = Math.floor(clamp(1.5 - Math.abs(4 * v - 2)) * 255);
    lut[3 * i + 2] = Math.floor(clamp(1.5 - Math.abs(4 * v - 1)) * 255);
  }
  return lut;
})();

function showError(message) {
  const box = el('error');
  box.textContent = message || '';
  box.hidden = !message;
}

function setStatus(text) { el('status').textContent = text; }

async function loadModelInfo() {
  try {
    const response = await fetch('/api/model');
    const model = await response.json();
    el('model-info').textContent = model.method === 'rec'
      ? `Model: ${model.checkpoint} — anchor-based REC over a ${model.inputSize} px YOLOv3 (${model.detectorClasses} classes), ` +
        `top-${model.topK} anchors, ${model.cma ? 'Cross-Modality Attention' : 'no CMA'}, on ${model.device}.`
      : `Model: ${model.checkpoint} — ViT ${model.vision.depth}×${model.vision.width}, BERT ${model.bert.layers}×${model.bert.hiddenSize}, ` +
        `${model.imageRes} px, ${model.gridSize[0]}×${model.gridSize[1]} grid, GradCAM layer ${model.gradcamLayer}, on ${model.device}.`;
    if (model.notice) {
      el('model-notice').textContent = `Note: ${model.notice}.`;
      el('model-notice').hidden = false;
    }
  } catch (e) {
    el('model-info').textContent = 'model information unavailable: ' + e.message;
  }
}

async function loadSamples() {
  const response = await fetch('/api/samples');
  const samples = await response.json();
  const container = el('samples');
  for (const sample of samples) {
    const button = document.createElement('button');
    button.type = 'button';
    button.title = sample.title;
    button.dataset.sample = sample.id;
    const img = document.createElement('img');
    img.src = sample.url;
    img.alt = sample.title;
    button.appendChild(img);
    button.addEventListener('click', () => chooseSample(sample, button));
    container.appendChild(button);
  }
}

async function chooseSample(sample, button) {
  const blob = await (await fetch(sample.url)).blob();
  await useImage({ kind: 'sample', id: sample.id, label: `sample: ${sample.title}` }, blob);
  document.querySelectorAll('.samples button').forEach((b) => b.classList.toggle('selected', b === button));
  if (!el('phrases').value.trim()) el('phrases').value = sample.phrases.join('\n');
}

async function chooseFile(file) {
  if (!file) return;
  document.querySelectorAll('.samples button').forEach((b) => b.classList.remove('selected'));
  await useImage({ kind: 'file', file, label: `${file.name} (${Math.round(file.size / 1024)} KiB)` }, file);
}

async function useImage(source, blob) {
  showError('');
  try {
    state.bitmap = await createImageBitmap(blob);
  } catch {
    state.bitmap = null;
    showError('This browser cannot show that image; it can still be sent, but nothing will be drawn.');
  }
  state.source = source;
  el('image-label').textContent = source.label;
  const preview = el('preview');
  if (state.bitmap) {
    preview.width = state.bitmap.width;
    preview.height = state.bitmap.height;
    preview.getContext('2d').drawImage(state.bitmap, 0, 0);
    preview.hidden = false;
  } else {
    preview.hidden = true;
  }
}

function phraseLines() {
  return el('phrases').value.split('\n').map((p) => p.trim()).filter((p) => p.length > 0);
}

async function ground() {
  showError('');
  if (!state.source) { showError('Choose an image or a sample first.'); return; }
  const phrases = phraseLines();
  if (phrases.length === 0) { showError('Type at least one phrase.'); return; }
  let request;
  if (state.source.kind === 'file') {
    const form = new FormData();
    form.append('image', state.source.file);
    form.append('phrases', phrases.join('\n'));
    request = { method: 'POST', body: form };
  } else {
    request = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ sample: state.source.id, phrases }) };
  }
  el('ground-button').disabled = true;
  setStatus('grounding…');
  try {
    const response = await fetch('/api/ground', request);
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) {
      const retry = response.headers.get('Retry-After');
      showError(body.error + (retry ? ` (retry in ${retry} s)` : ''));
      setStatus('');
      return;
    }
    await showResults(body);
    setStatus(`${body.results.length} phrase(s) in ${Math.round(body.timing.totalMs)} ms`);
  } catch (e) {
    showError('The request failed: ' + e.message);
    setStatus('');
  } finally {
    el('ground-button').disabled = false;
  }
}

async function loadImage(url) {
  const img = new Image();
  img.src = url;
  await img.decode();
  return img;
}

/** The greyscale heatmap coloured with jet, as a canvas the size of the display image. */
async function colourHeatmap(url) {
  const grey = await loadImage(url);
  const canvas = document.createElement('canvas');
  canvas.width = grey.naturalWidth;
  canvas.height = grey.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(grey, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const px = data.data;
  for (let i = 0; i < px.length; i += 4) {
    const v = px[i];
    px[i] = JET[3 * v]; px[i + 1] = JET[3 * v + 1]; px[i + 2] = JET[3 * v + 2]; px[i + 3] = 255;
  }
  ctx.putImageData(data, 0, 0);
  return canvas;
}

async function showResults(body) {
  const container = el('results');
  container.replaceChildren();
  state.results = [];
  for (const r of body.results) {
    const card = document.createElement('article');
    card.className = 'result';
    const title = document.createElement('h3');
    title.textContent = r.phrase;
    const canvas = document.createElement('canvas');
    canvas.width = body.image.displayWidth;
    canvas.height = body.image.displayHeight;
    const facts = document.createElement('dl');
    const add = (name, value) => {
      const dt = document.createElement('dt'); dt.textContent = name;
      const dd = document.createElement('dd'); dd.textContent = value;
      facts.append(dt, dd);
    };
    add(r.candidates ? 'similarity' : 'match score', r.score.toFixed(3));
    add('point (x, y)', `${r.point[0]}, ${r.point[1]}`);
    add('box (x1, y1, x2, y2)', r.box.map((v) => Math.round(v)).join(', '));
    add('time', `${Math.round(r.timing.inferenceMs)} ms model (all phrases), ${Math.round(r.timing.renderMs)} ms render`);
    if (r.warnings.length) add('warning', r.warnings.join('; '));
    const link = document.createElement('a');
    link.href = r.overlayUrl;
    link.target = '_blank';
    link.textContent = 'overlay PNG';
    card.append(title, canvas, facts, link);
    container.appendChild(card);
    const heat = r.heatmapPng ? await colourHeatmap(r.heatmapPng) : null; // REC answers are boxes, without a heatmap
    const entry = { result: r, canvas, heat, image: body.image, card };
    state.results.push(entry);
    draw(entry);
  }
}

function draw({ result, canvas, heat, image, card }) {
  const ctx = canvas.getContext('2d');
  const opacity = Number(el('opacity').value);
  ctx.globalAlpha = 1;
  if (state.bitmap) ctx.drawImage(state.bitmap, 0, 0, canvas.width, canvas.height);
  else { ctx.fillStyle = '#000'; ctx.fillRect(0, 0, canvas.width, canvas.height); }
  if (heat) {
    ctx.globalAlpha = opacity;
    ctx.drawImage(heat, 0, 0, canvas.width, canvas.height);
    ctx.globalAlpha = 1;
  }
  // Point and boxes come in original-image pixels.
  const sx = canvas.width / image.width, sy = canvas.height / image.height;
  const stroke = Math.max(2, Math.min(canvas.width, canvas.height) / 150);
  // REC: the next candidate anchors, thin and yellow, with their similarities.
  for (const c of (result.candidates || []).slice(1, 5)) {
    const [cx1, cy1, cx2, cy2] = c.box;
    ctx.strokeStyle = '#ff0'; ctx.lineWidth = stroke / 2;
    ctx.strokeRect(cx1 * sx, cy1 * sy, (cx2 - cx1) * sx, (cy2 - cy1) * sy);
    ctx.fillStyle = '#ff0'; ctx.font = `${Math.max(10, canvas.height / 32)}px sans-serif`;
    ctx.fillText(c.score.toFixed(2), cx1 * sx + 2, cy2 * sy - 3);
  }
  const [x1, y1, x2, y2] = result.box;
  for (const [colour, width] of [['#000', stroke * 2], ['#fff', stroke]]) {
    ctx.strokeStyle = colour; ctx.lineWidth = width;
    ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
  }
  ctx.beginPath();
  ctx.arc((result.point[0] + 0.5) * sx, (result.point[1] + 0.5) * sy, stroke * 2.5, 0, 2 * Math.PI);
  ctx.fillStyle = '#fff'; ctx.fill();
  ctx.strokeStyle = '#000'; ctx.lineWidth = stroke; ctx.stroke();
  card.dataset.rendered = 'true';
}

function setUp() {
  el('image-input').addEventListener('change', (e) => chooseFile(e.target.files[0]));
  const zone = el('drop-zone');
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('dragging'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    chooseFile(e.dataTransfer.files[0]);
  });
  el('ground-button').addEventListener('click', ground);
  el('opacity').addEventListener('input', () => {
    el('opacity-value').textContent = Number(el('opacity').value).toFixed(2);
    state.results.forEach(draw);
  });
  loadModelInfo();
  loadSamples().catch((e) => showError('samples unavailable: ' + e.message));
}

setUp();
