// Load test of `mnist draw`: REQUESTS predictions from CLIENTS concurrent clients, each
// with its own keep-alive connection, every answer checked.  Prints requests/s and the
// latency percentiles; exits 1 on any error (a failed request, a bad answer).
//   node load.mjs URL [--requests 1000] [--clients 8]
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const SIDE = 140; // what the page sends

function parseArgs(argv) {
  const options = { url: null, requests: 1000, clients: 8 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--requests' || a === '--clients') {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a}: '${argv[i]}' is not a positive integer`);
      options[a.slice(2)] = v;
    } else if (!options.url && /^http:\/\//.test(a)) {
      options.url = new URL('/api/predict', a);
    } else {
      throw new Error(`unexpected argument '${a}'`);
    }
  }
  if (!options.url) throw new Error('usage: node load.mjs URL [--requests N] [--clients N]');
  return options;
}

// A body like the page's: a thick stroke shaped like a 7, shifted a little per body so
// that the requests are not all the same picture.
function drawing(shift) {
  const pixels = new Array(SIDE * SIDE).fill(0);
  const stroke = (x0, y0, x1, y1) => {
    for (let t = 0; t <= 1; t += 0.002) {
      const cx = x0 + (x1 - x0) * t + shift, cy = y0 + (y1 - y0) * t + shift;
      for (let y = Math.max(0, cy - 5 | 0); y < Math.min(SIDE, cy + 5); y++)
        for (let x = Math.max(0, cx - 5 | 0); x < Math.min(SIDE, cx + 5); x++)
          if ((x - cx) ** 2 + (y - cy) ** 2 <= 25) pixels[y * SIDE + x] = 255;
    }
  };
  stroke(35, 30, 105, 30);
  stroke(105, 30, 60, 115);
  return JSON.stringify({ width: SIDE, height: SIDE, pixels });
}

function post(agent, url, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    }, (response) => {
      const chunks = [];
      response.on('data', (c) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode, text: Buffer.concat(chunks).toString() }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

// Returns why an answer is wrong, or null.
function checkAnswer({ status, text }) {
  if (status !== 200) return `status ${status}: ${text.slice(0, 200)}`;
  const answer = JSON.parse(text);
  if (!Array.isArray(answer.image) || answer.image.length !== 784) return 'no 28x28 image';
  if (!Array.isArray(answer.models) || answer.models.length === 0) return 'no model answered';
  for (const m of answer.models) {
    const sum = m.probabilities.reduce((a, b) => a + b, 0);
    if (m.probabilities.length !== 10 || Math.abs(sum - 1) > 1e-3) return `${m.name}: bad probabilities`;
  }
  return null;
}

function percentile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function main() {
  const { url, requests, clients } = parseArgs(process.argv.slice(2));
  const bodies = Array.from({ length: 16 }, (_, i) => drawing(i - 8));
  const latencies = [], errors = [];
  let next = 0;
  const client = async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (next < requests) {
      const body = bodies[next++ % bodies.length];
      const start = performance.now();
      try {
        const why = checkAnswer(await post(agent, url, body));
        if (why) errors.push(why);
      } catch (err) {
        errors.push(err.message);
      }
      latencies.push(performance.now() - start);
    }
    agent.destroy();
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: clients }, client));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const ms = (q) => percentile(latencies, q).toFixed(1);
  console.log(`${latencies.length} requests from ${clients} clients in ${seconds.toFixed(2)} s: ` +
    `${(latencies.length / seconds).toFixed(1)} requests/s; latency p50 ${ms(0.5)} ms, ` +
    `p90 ${ms(0.9)} ms, p99 ${ms(0.99)} ms, max ${ms(1)} ms; ${errors.length} errors`);
  if (errors.length) {
    console.error(`first errors:\n  ${[...new Set(errors)].slice(0, 5).join('\n  ')}`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(`load.mjs: ${err.message}`);
  process.exit(1);
});
