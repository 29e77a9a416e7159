// End-to-end test of `mnist draw` in Debian's headless Chromium, driven by playwright-core:
//   1. trains the two models with the real `mnist` (CNN 1 epoch, MLP 2) into a temp dir
//      (or takes them from --models DIR) and starts `mnist draw --port 0` on them;
//   2. draws a digit with mouse strokes: both bar charts appear, each with a guess, and
//      the 28x28 image the models see is shown; Clear empties them; a screenshot;
//   3. at a phone's viewport the page fits the screen's width (a second screenshot);
//   4. paints the first 100 MNIST test digits onto the pad through the page: the CNN's
//      guesses shown must match the labels for at least 95 of them;
//   5. the load test (load.mjs): 1,000 requests from 8 clients, no error;
//   6. SIGINT stops the server with exit 0.
// Exits 1 at the first failed check.
//   node draw.test.mjs [--mnist build/bin/mnist] [--models DIR] [--screenshot FILE.png]
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = '/usr/bin/chromium';
const DIGITS = 100, MIN_CORRECT = 95;

function parseArgs(argv) {
  const options = { mnist: path.join(ROOT, 'build/bin/mnist'), models: null, screenshot: null };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in options) || argv[i + 1] === undefined) throw new Error(`bad argument '${argv[i]}'`);
    options[key] = path.resolve(argv[i + 1]);
  }
  return options;
}

const started = Date.now();
const log = (text) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${text}`);

function run(mnist, args) {
  const r = spawnSync(mnist, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  assert.equal(r.status, 0, `mnist ${args.join(' ')} failed (${r.error || `exit ${r.status}`})`);
}

// The models, trained here unless given; data/mnist is fetched if missing (cached else).
function models(options, tmp) {
  if (options.models) return options.models;
  run(options.mnist, ['fetch']);
  run(options.mnist, ['train', '--model', 'mlp', '--epochs', '2', '--val', '0', '--out', `${tmp}/mlp.safetensors`]);
  log('mlp trained');
  run(options.mnist, ['train', '--model', 'cnn', '--epochs', '1', '--val', '0', '--out', `${tmp}/cnn.safetensors`]);
  log('cnn trained');
  return tmp;
}

// `mnist draw --port 0` in the repository (model paths relative to it where they can be:
// the page shows them); resolves with the process and the URL it prints.
function startServer(mnist, dir) {
  const relative = path.relative(ROOT, dir);
  const where = relative.startsWith('..') ? dir : relative || '.';
  const server = spawn(mnist, ['draw', '--port', '0', '--mlp', `${where}/mlp.safetensors`, '--cnn', `${where}/cnn.safetensors`],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL from mnist draw: ${out}`)), 20000);
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const url = /http:\/\/\S+/.exec(out);
      if (url) {
        clearTimeout(timer);
        resolve({ server, url: url[0], output: () => out });
      }
    });
    server.on('exit', (code) => reject(new Error(`mnist draw exited with ${code}: ${out}`)));
  });
}

// The first n images (28x28 bytes each) and labels of the MNIST test set (raw or gzip).
function testDigits(n) {
  const read = (name) => {
    const file = path.join(ROOT, 'data/mnist', name);
    const bytes = fs.readFileSync(fs.existsSync(file) ? file : `${file}.gz`);
    return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  };
  const images = read('t10k-images-idx3-ubyte'), labels = read('t10k-labels-idx1-ubyte');
  assert.equal(images.readUInt32BE(0), 0x803, 'not an IDX image file');
  assert.equal(labels.readUInt32BE(0), 0x801, 'not an IDX label file');
  return Array.from({ length: n }, (_, i) => ({
    pixels: Array.from(images.subarray(16 + i * 784, 16 + (i + 1) * 784)),
    label: labels[8 + i],
  }));
}

const guessOf = (page, name) => page.textContent(`.model[data-name="${name}"] .guess`);

// A "4" in three mouse strokes, in fractions of the pad's side.
async function drawFour(page) {
  const box = await page.locator('#pad').boundingBox();
  const strokes = [[[0.55, 0.15], [0.25, 0.6], [0.75, 0.6]], [[0.6, 0.35], [0.6, 0.88]]];
  for (const stroke of strokes) {
    const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (let s = 1; s < stroke.length; s++)
      for (let t = 1; t <= 12; t++) {
        const [x0, y0] = stroke[s - 1], [x1, y1] = stroke[s];
        await page.mouse.move(...at([x0 + (x1 - x0) * t / 12, y0 + (y1 - y0) * t / 12]));
      }
    await page.mouse.up();
  }
}

async function checkDrawing(page, screenshot) {
  await page.evaluate(() => window.digitPadReady);
  assert.equal(await page.locator('.model:not(.missing)').count(), 2, 'two model cards');
  await drawFour(page);
  for (const name of ['mlp', 'cnn']) {
    await page.waitForFunction((n) => /^[0-9]$/.test(document.querySelector(`.model[data-name="${n}"] .guess`).textContent), name);
    const card = page.locator(`.model[data-name="${name}"]`);
    assert.equal(await card.locator('.bar-col').count(), 10, `${name}: ten bars`);
    assert.equal(await card.locator('.bar-col.best').count(), 1, `${name}: one highlighted bar`);
    log(`drawn "4": ${name} guesses ${await guessOf(page, name)} (${await card.locator('.confidence').textContent()})`);
  }
  const inkSeen = await page.evaluate(() => {
    const data = document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data;
    return data.filter((v, i) => i % 4 === 0 && v > 128).length;
  });
  assert.ok(inkSeen > 20, `the 28x28 image shows the digit (${inkSeen} bright pixels)`);
  await page.waitForTimeout(300); // the bars grow in 0.15 s
  await page.screenshot({ path: screenshot });
  log(`screenshot: ${screenshot}`);
  await page.click('#clear');
  assert.equal(await guessOf(page, 'cnn'), '–', 'Clear empties the charts');
}

async function checkPhone(context, url, screenshot) {
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(url);
  await phone.evaluate(() => window.digitPadReady);
  await drawFour(phone);
  await phone.waitForFunction(() => /^[0-9]$/.test(document.querySelector('.model[data-name="cnn"] .guess').textContent));
  const fit = await phone.evaluate(() => ({
    page: document.documentElement.scrollWidth,
    pad: document.getElementById('pad').getBoundingClientRect().right,
  }));
  assert.ok(fit.page <= 390 && fit.pad <= 390, `the page fits a phone's width (${JSON.stringify(fit)})`);
  await phone.screenshot({ path: screenshot, fullPage: true });
  log(`phone screenshot: ${screenshot}`);
  await phone.close();
}

async function checkDigits(page) {
  let cnn = 0, mlp = 0;
  const wrong = [];
  for (const [i, { pixels, label }] of testDigits(DIGITS).entries()) {
    await page.evaluate(([p]) => window.digitPad.paint(p, 28, 28), [pixels]);
    const guess = Number(await guessOf(page, 'cnn'));
    if (guess === label) cnn++;
    else wrong.push(`#${i}: ${label} seen as ${guess}`);
    mlp += Number(await guessOf(page, 'mlp')) === label;
  }
  log(`${DIGITS} MNIST test digits painted: CNN ${cnn}/${DIGITS} right, MLP ${mlp}/${DIGITS}` +
    (wrong.length ? ` (CNN wrong: ${wrong.join(', ')})` : ''));
  assert.ok(cnn >= MIN_CORRECT, `the CNN must get at least ${MIN_CORRECT} of ${DIGITS}`);
}

function loadTest(url) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'tests/e2e/load.mjs'), url, '--requests', '1000', '--clients', '8'],
    { encoding: 'utf8' });
  log(`load test: ${r.stdout.trim()}${r.stderr ? `\n${r.stderr.trim()}` : ''}`);
  assert.equal(r.status, 0, 'the load test had errors');
}

function stopServer({ server, output }) {
  return new Promise((resolve) => {
    server.removeAllListeners('exit');
    server.on('exit', (code, signal) => {
      assert.equal(code, 0, `mnist draw after SIGINT: exit ${code}, signal ${signal}`);
      assert.match(output(), /SIGINT: stopping/);
      resolve();
    });
    server.kill('SIGINT');
  });
}

// Collects what should never happen: a script error, an error in the console (such as
// a Content-Security-Policy refusal), a request to anywhere but the server.
function watchPage(page, url) {
  const problems = [];
  page.on('pageerror', (err) => problems.push(`script error: ${err.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('request', (r) => { if (!r.url().startsWith(url)) problems.push(`request to ${r.url()}`); });
  return problems;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mnist-draw-e2e-'));
  let served = null, context = null;
  try {
    served = await startServer(options.mnist, models(options, tmp));
    log(`serving ${served.url}`);
    context = await chromium.launchPersistentContext(path.join(tmp, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
      viewport: { width: 1100, height: 760 },
    });
    const page = context.pages()[0] || await context.newPage();
    const problems = watchPage(page, served.url);
    await page.goto(served.url);
    await checkDrawing(page, options.screenshot || path.join(tmp, 'draw.png'));
    await checkPhone(context, served.url, path.join(tmp, 'draw-phone.png'));
    await checkDigits(page);
    assert.deepEqual(problems, [], 'the page fetched nothing from elsewhere and logged no error');
    loadTest(served.url);
    await context.close();
    context = null;
    await stopServer(served);
    served = null;
    log('mnist draw end-to-end: all checks passed');
  } finally {
    if (context) await context.close();
    if (served) served.server.kill('SIGKILL');
    if (!process.env.KEEP_E2E_TMP) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`draw.test.mjs: FAILED: ${err.message}`);
  process.exit(1);
});
