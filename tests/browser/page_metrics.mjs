// Page weight (gzip -9 of what dist/ serves) and time from navigation to a usable page in headless
// Chromium on localhost: "mounted" = the page's controls are on screen, "backend" = the worker has
// loaded its wasm and picked a backend (training can start). Run: node tests/browser/page_metrics.mjs
import { createServer } from "node:http";
import { readFile, readdir, stat } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

const DIST = new URL("../../dist/", import.meta.url).pathname;
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" };

async function files(dir, prefix = "") {
  const out = [];
  for (const e of await readdir(dir)) {
    const p = join(dir, e);
    if ((await stat(p)).isDirectory()) out.push(...(await files(p, `${prefix}${e}/`)));
    else out.push([`${prefix}${e}`, p]);
  }
  return out;
}

let total = 0;
for (const [name, path] of await files(DIST)) {
  const raw = await readFile(path);
  const gz = gzipSync(raw, { level: 9 }).length;
  if (!name.startsWith("soundfont/")) total += gz;
  console.log(`${name}\traw ${raw.length}\tgzip ${gz}`);
}
console.log(`page (without the SoundFont, which loads on first Play): gzip ${total} bytes`);

const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^\/+/, "") || "index.html";
  let body;
  try { body = await readFile(join(DIST, path)); } catch { return res.writeHead(404).end(); }
  res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" });
  res.end(body);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"] });
for (let run = 0; run < 3; run++) {
  const page = await browser.newPage();
  const t0 = Date.now();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForSelector('[data-testid="train-start"]');
  const mounted = Date.now() - t0;
  await page.waitForFunction(() => (document.querySelector('[data-testid="backend"]')?.textContent ?? "checking…") !== "checking…", null, { timeout: 120_000 });
  console.log(`run ${run + 1}: mounted ${mounted} ms, backend chosen ${Date.now() - t0} ms (${await page.textContent('[data-testid="backend"]')})`);
  await page.close();
}
// Training and generation speed in the page: the medium preset (embedding 128, 2×256 LSTM), four
// training steps at batch 32 × 128 tokens, then 30-second clips (60 beats at 120 bpm).
{
  const MIDI = new URL("../../../shared/midi/jazz-soft-test-midi-files/", import.meta.url).pathname;
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => (document.querySelector('[data-testid="backend"]')?.textContent ?? "checking…") !== "checking…", null, { timeout: 120_000 });
  await page.setInputFiles('[data-testid="corpus-input"]', [join(MIDI, "test-all-gm-sounds.mid")]);
  await page.waitForSelector('[data-testid="corpus-row"]');
  await page.click('[data-testid="preset-medium"]');
  await page.click("details summary");
  // The benchmark shape: vocabulary 323, embedding 128, 2×256 LSTM, batch 32, sequence 128.
  for (const [id, v] of [["field-steps", "4"], ["field-epochs", "1"], ["field-batch", "32"], ["field-seq", "128"]]) {
    await page.fill(`[data-testid="${id}"]`, v);
    await page.dispatchEvent(`[data-testid="${id}"]`, "change");
  }
  await page.click('[data-testid="train-start"]');
  await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 300_000 });
  console.log(`medium model (2×256, batch 32 × 128), 4 training steps on Flex-wasm in the worker: ${await page.textContent('[data-testid="train-stats"]')}`);
  await page.fill('[data-testid="gen-beats"]', "60");
  await page.dispatchEvent('[data-testid="gen-beats"]', "change");
  for (let seed = 1; seed <= 3; seed++) {
    await page.fill('[data-testid="gen-seed"]', String(seed));
    await page.dispatchEvent('[data-testid="gen-seed"]', "change");
    await page.click('[data-testid="generate"]');
    await page.waitForFunction((s) => new RegExp(`with seed ${s}\\.`).test(document.querySelector('[data-testid="gen-status"]').textContent), seed, { timeout: 120_000 });
    console.log(`30-second clip, seed ${seed}: ${await page.textContent('[data-testid="gen-status"]')}`);
  }
  await page.close();
}
await browser.close();
server.close();
