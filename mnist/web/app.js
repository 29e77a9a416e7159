// The drawing page of `mnist draw`: a pad drawn on with pointer events (mouse, pen,
// touch), sent to POST /api/predict while drawing; each model's ten probabilities come
// back as a bar chart, with the 28x28 image the models saw.
'use strict';

const INK_WIDTH = 1 / 14;   // of the pad's side: strokes about as thick as MNIST's
const THROTTLE_MS = 80;     // at most one request this often while drawing
// The pad is drawn at 420 x 420 (sharp on high-density screens) but sent at 140 x 140,
// each pixel the mean of a 3 x 3 block: the server's JSON parsing costs per pixel, and
// the models see 28 x 28 anyway.
const SEND_FACTOR = 3;
const LABELS = { mlp: 'MLP', cnn: 'CNN' };

const pad = document.getElementById('pad');
const ink = pad.getContext('2d', { willReadFrequently: true });
const seen = document.getElementById('seen').getContext('2d');
const statusLine = document.getElementById('status');
const cards = new Map(); // model name -> its card element

let hasInk = false;
let generation = 0;  // bumped by Clear, so that an answer to an older drawing is dropped
let timer = null, inFlight = false, dirty = false;

// ---- The pad ------------------------------------------------------------------------

function clearPad() {
  ink.fillStyle = '#fff';
  ink.fillRect(0, 0, pad.width, pad.height);
  seen.fillStyle = '#000';
  seen.fillRect(0, 0, 28, 28);
  hasInk = false;
  generation++;
  for (const card of cards.values()) showProbabilities(card, null);
  statusLine.textContent = 'Draw a digit from 0 to 9';
}

function padPoint(event) {
  const r = pad.getBoundingClientRect();
  return [(event.clientX - r.left) * pad.width / r.width, (event.clientY - r.top) * pad.height / r.height];
}

let last = null;

function strokeTo(point) {
  ink.beginPath();
  ink.moveTo(...(last || point));
  ink.lineTo(...point);
  ink.stroke();
  last = point;
}

function startDrawing() {
  ink.strokeStyle = '#000';
  ink.lineWidth = pad.width * INK_WIDTH;
  ink.lineCap = ink.lineJoin = 'round';
  pad.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    pad.setPointerCapture(e.pointerId);
    last = null;
    strokeTo(padPoint(e));
    changed();
  });
  pad.addEventListener('pointermove', (e) => {
    if (!pad.hasPointerCapture(e.pointerId)) return;
    // Coalesced events keep fast strokes smooth on screens that batch them.
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const c of events.length ? events : [e]) strokeTo(padPoint(c));
    changed();
  });
  const end = () => { last = null; changed(); };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
}

// ---- Asking the server --------------------------------------------------------------

function changed() {
  hasInk = true;
  dirty = true;
  if (!timer) timer = setTimeout(flush, THROTTLE_MS);
}

// One request at a time: what is drawn meanwhile goes in the next one.
async function flush() {
  timer = null;
  if (inFlight || !dirty) return;
  dirty = false;
  inFlight = true;
  try {
    await predictNow();
  } finally {
    inFlight = false;
    if (dirty && !timer) timer = setTimeout(flush, THROTTLE_MS);
  }
}

// The pad's pixels as ink (255 - gray: mostly zeros, so the JSON is half the size),
// averaged over SEND_FACTOR x SEND_FACTOR blocks.
function padPixels() {
  const rgba = ink.getImageData(0, 0, pad.width, pad.height).data;
  const side = pad.width / SEND_FACTOR, area = SEND_FACTOR * SEND_FACTOR;
  const pixels = new Array(side * side).fill(0);
  for (let y = 0; y < pad.height; y++) {
    const row = ((y / SEND_FACTOR) | 0) * side;
    for (let x = 0; x < pad.width; x++) pixels[row + ((x / SEND_FACTOR) | 0)] += 255 - rgba[4 * (y * pad.width + x)];
  }
  return { side, pixels: pixels.map((v) => Math.round(v / area)) };
}

async function predictNow() {
  if (!hasInk) return null;
  const asked = generation;
  const { side, pixels } = padPixels();
  const body = JSON.stringify({ width: side, height: side, pixels });
  let answer;
  try {
    const response = await fetch('/api/predict', { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
  } catch (err) {
    statusLine.textContent = `The server did not answer: ${err.message}`;
    return null;
  }
  if (asked === generation) show(answer);
  return answer;
}

// ---- Showing the answer -------------------------------------------------------------

function show(answer) {
  if (answer.blank) {
    statusLine.textContent = 'Nothing to see yet: draw a bigger digit';
    return;
  }
  const image = seen.createImageData(28, 28);
  answer.image.forEach((v, i) => {
    image.data.set([v, v, v, 255], 4 * i);
  });
  seen.putImageData(image, 0, 0);
  for (const m of answer.models) showProbabilities(cards.get(m.name), m);
  statusLine.textContent = 'Keep drawing, or Clear';
}

function showProbabilities(card, model) {
  if (!card || card.classList.contains('missing')) return;
  card.querySelector('.guess').textContent = model ? model.guess : '–';
  card.querySelector('.confidence').textContent = model
    ? `${(100 * model.probabilities[model.guess]).toFixed(1)}% sure` : '';
  card.querySelectorAll('.bar-col').forEach((col, k) => {
    const p = model ? model.probabilities[k] : 0;
    col.classList.toggle('best', model !== null && k === model.guess);
    col.querySelector('.bar').style.height = `${(100 * p).toFixed(1)}%`;
    col.querySelector('.pct').textContent = model && p >= 0.005 ? `${Math.round(100 * p)}%` : '';
  });
}

function makeCard(model) {
  const card = document.getElementById('model-card').content.firstElementChild.cloneNode(true);
  card.dataset.name = model.name;
  card.querySelector('.name').textContent = LABELS[model.name] || model.name;
  card.querySelector('.file').textContent = model.file;
  const bars = card.querySelector('.bars');
  for (let k = 0; k < 10; k++) {
    const col = document.createElement('div');
    col.className = 'bar-col';
    col.innerHTML = '<span class="pct"></span><div class="bar-track"><div class="bar"></div></div><span class="digit"></span>';
    col.querySelector('.digit').textContent = k;
    bars.append(col);
  }
  if (!model.loaded) {
    card.classList.add('missing');
    const hint = card.querySelector('.hint');
    hint.append(`${model.file} is missing: `);
    hint.append(Object.assign(document.createElement('code'), { textContent: model.hint.replace(/^train it with: /, '') }));
  }
  return card;
}

async function loadModels() {
  const response = await fetch('/api/models');
  const { models } = await response.json();
  const list = document.getElementById('models');
  for (const m of models) {
    const card = makeCard(m);
    cards.set(m.name, card);
    list.append(card);
  }
}

// For scripts (the end-to-end test): paints a grayscale picture (ink bright, as MNIST
// stores it) over the whole pad, then asks for the models' answer and shows it.
window.digitPad = {
  async paint(pixels, width, height) {
    clearPad();
    const small = document.createElement('canvas');
    small.width = width;
    small.height = height;
    const ctx = small.getContext('2d');
    const image = ctx.createImageData(width, height);
    pixels.forEach((v, i) => image.data.set([255 - v, 255 - v, 255 - v, 255], 4 * i));
    ctx.putImageData(image, 0, 0);
    ink.imageSmoothingEnabled = true;
    ink.drawImage(small, 0, 0, pad.width, pad.height);
    hasInk = true;
    return predictNow();
  },
};

document.getElementById('clear').addEventListener('click', clearPad);
window.addEventListener('keydown', (e) => { if (e.key === 'Escape') clearPad(); });
startDrawing();
clearPad();
window.digitPadReady = loadModels().catch((err) => {
  statusLine.textContent = `Cannot reach the server: ${err.message}`;
});
