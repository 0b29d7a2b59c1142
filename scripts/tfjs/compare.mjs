// Cantor vs TF.js in one headless Chromium run, same model shape (BENCHMARKS.md):
// embedding 128, 2×256 LSTM, output ~300, batch 32, sequence 128; generation batch 1, one token at
// a time with host-side sampling. Cantor runs in its page's worker (Flex-wasm, then WebGPU); TF.js
// runs in a page of its own on its wasm backend, then its webgpu backend, on the same adapter.
//
//   trunk build --release && (cd scripts/tfjs && npm ci) && node scripts/tfjs/compare.mjs [--skip-webgpu]
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { DIST, ROOT, launch, backendChosen, setFields } from "../../tests/browser/serve.mjs";

const TF = join(ROOT, "scripts/tfjs/node_modules/@tensorflow");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" };
const MIDI = join(ROOT, "../shared/midi/jazz-soft-test-midi-files");
const skipWebgpu = process.argv.includes("--skip-webgpu");
const STEPS = { cpu: 4, gpu: 2 };

// dist/ at /, the TF.js packages at /tf/.
const server = await new Promise((ok) => {
  const s = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^\/+/, "") || "index.html";
    if (path === "tfjs.html") return res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>tfjs</title>");
    const file = path.startsWith("tf/") ? join(TF, path.slice(3)) : join(DIST, path);
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  s.listen(0, "127.0.0.1", () => ok(s));
});
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await launch();
const results = [];

async function cantor(backend) {
  const page = await browser.newPage();
  await page.goto(base);
  await backendChosen(page);
  if (backend === "gpu") {
    await page.selectOption('select[aria-label="Backend"]', "gpu");
    await page.waitForFunction(() => document.querySelector('[data-testid="backend"]').textContent.startsWith("WebGPU"), null, { timeout: 300_000 });
  }
  const adapter = await page.textContent('[data-testid="backend"]');
  await page.setInputFiles('[data-testid="corpus-input"]', [join(MIDI, "test-all-gm-sounds.mid")]);
  await page.waitForSelector('[data-testid="corpus-row"]');
  await page.click('[data-testid="preset-medium"]');
  await setFields(page, { "field-steps": STEPS[backend], "field-epochs": 1, "field-batch": 32, "field-seq": 128 });
  await page.click('[data-testid="train-start"]');
  await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 1_800_000 });
  const stats = await page.textContent('[data-testid="train-stats"]');
  const train = Number(/([\d.]+) tokens\/s/.exec(stats)[1]);
  // Generation: the page generates on Flex in the worker whatever trained the model.
  await page.fill('[data-testid="gen-beats"]', "60");
  await page.dispatchEvent('[data-testid="gen-beats"]', "change");
  await page.click('[data-testid="generate"]');
  await page.waitForFunction(() => /Generated \d+ notes/.test(document.querySelector('[data-testid="gen-status"]').textContent), null, { timeout: 300_000 });
  const [, tokens, ms] = /\((\d+) tokens\) in (\d+) ms/.exec(await page.textContent('[data-testid="gen-status"]'));
  await page.close();
  return { impl: "cantor", backend, adapter, train_tokens_per_s: train, gen_tokens_per_s: (Number(tokens) / Number(ms)) * 1000 };
}

async function tfjs(backend, steps, genTokens) {
  const page = await browser.newPage();
  page.on("console", (m) => m.type() === "error" && console.error("tfjs page:", m.text()));
  await page.goto(`${base}tfjs.html`);
  await page.addScriptTag({ url: `${base}tf/tfjs/dist/tf.min.js` });
  await page.addScriptTag({ url: `${base}tf/tfjs-backend-wasm/dist/tf-backend-wasm.min.js` });
  await page.addScriptTag({ url: `${base}tf/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js` });
  const r = await page.evaluate(async ([backend, steps, genTokens, base]) => {
    const tf = window.tf;
    if (backend === "wasm") tf.wasm.setWasmPaths(`${base}tf/tfjs-backend-wasm/dist/`);
    await tf.setBackend(backend);
    await tf.ready();
    const [V, E, H, B, T] = [300, 128, 256, 32, 128];
    // The embedding as one-hot × matrix: TF.js's wasm backend has no kernel for the embedding's
    // gradient (UnsortedSegmentSum); this adds ~10 % arithmetic to TF.js's step, on both backends.
    const model = tf.sequential({ layers: [
      tf.layers.dense({ units: E, useBias: false, inputShape: [T, V] }),
      tf.layers.lstm({ units: H, returnSequences: true }),
      tf.layers.lstm({ units: H, returnSequences: true }),
      tf.layers.dense({ units: V }),
    ] });
    const opt = tf.train.adam(3e-3);
    const x = tf.oneHot(tf.randomUniform([B, T], 0, V, "int32"), V).cast("float32");
    const y = tf.oneHot(tf.randomUniform([B, T], 0, V, "int32"), V);
    const step = async () => {
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x)), true);
      await loss.data();
      loss.dispose();
    };
    await step(); // warm-up (kernel compilation)
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await step();
    const stepMs = (performance.now() - t0) / steps;
    const gen = tf.sequential({ layers: [
      tf.layers.embedding({ inputDim: V, outputDim: E, batchInputShape: [1, 1] }),
      tf.layers.lstm({ units: H, returnSequences: true, stateful: true }),
      tf.layers.lstm({ units: H, stateful: true }),
      tf.layers.dense({ units: V, activation: "softmax" }),
    ] });
    let tok = 1;
    const next = async () => {
      const p = tf.tidy(() => gen.predict(tf.tensor2d([[tok]], [1, 1], "int32")));
      const probs = await p.data();
      p.dispose();
      let r = Math.random(), k = 0;
      for (; k < V - 1; k++) if ((r -= probs[k]) <= 0) break;
      tok = k;
    };
    await next();
    const g0 = performance.now();
    for (let i = 0; i < genTokens; i++) await next();
    const genS = (performance.now() - g0) / 1000;
    return { adapter: tf.getBackend(), step_ms: stepMs, train_tokens_per_s: (B * T) / (stepMs / 1000), gen_tokens_per_s: genTokens / genS };
  }, [backend, steps, genTokens, base]);
  await page.close();
  return { impl: "tfjs 4.22", backend, ...r };
}

const log = (r) => { results.push(r); console.log(JSON.stringify(r)); };
log(await cantor("cpu"));
log(await tfjs("wasm", 2, 200));
if (!skipWebgpu) {
  log(await cantor("gpu"));
  log(await tfjs("webgpu", 1, 20));
}
const ratio = (a, b, k) => (a && b ? (a[k] / b[k]).toFixed(2) : "n/a");
const find = (impl, backend) => results.find((r) => r.impl.startsWith(impl) && r.backend === backend);
console.log(`CPU path: Cantor Flex-wasm ÷ TF.js wasm — training ${ratio(find("cantor", "cpu"), find("tfjs", "wasm"), "train_tokens_per_s")}×, generation ${ratio(find("cantor", "cpu"), find("tfjs", "wasm"), "gen_tokens_per_s")}×`);
if (!skipWebgpu) {
  console.log(`GPU path: Cantor WebGPU ÷ TF.js webgpu — training ${ratio(find("cantor", "gpu"), find("tfjs", "webgpu"), "train_tokens_per_s")}×, generation ${ratio(find("cantor", "gpu"), find("tfjs", "webgpu"), "gen_tokens_per_s")}× (Cantor generates on Flex)`);
}
await browser.close();
server.close();
