// Page weight (gzip -9 of what dist/ serves) and time from navigation to a usable page in headless
// Chromium on localhost: "mounted" = the page's controls are on screen, "backend" = the worker has
// loaded its wasm and picked a backend (training can start). Run: node tests/browser/page_metrics.mjs
import { readFile, readdir, stat } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { DIST, ROOT, serve, launch, backendChosen, setFields } from "./serve.mjs";

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
  if (!name.startsWith("soundfont/") && !name.startsWith("starter/")) total += gz; // both load lazily
  console.log(`${name}\traw ${raw.length}\tgzip ${gz}`);
}
console.log(`page (without the SoundFont and the starter model, which load on first use): gzip ${total} bytes`);

const server = await serve();
const browser = await launch();
for (let run = 0; run < 3; run++) {
  const page = await browser.newPage();
  const t0 = Date.now();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForSelector('[data-testid="train-start"]');
  const mounted = Date.now() - t0;
  await backendChosen(page);
  console.log(`run ${run + 1}: mounted ${mounted} ms, backend chosen ${Date.now() - t0} ms (${await page.textContent('[data-testid="backend"]')})`);
  await page.close();
}
// Training and generation speed in the page: the medium preset (embedding 128, 2×256 LSTM),
// $STEPS (default four) training steps at batch 32 × 128 tokens, then 30-second clips (60 beats at
// 120 bpm).
{
  const STEPS = Number(process.env.STEPS ?? 4);
  const MIDI = join(ROOT, "../shared/midi/jazz-soft-test-midi-files");
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await backendChosen(page);
  await page.setInputFiles('[data-testid="corpus-input"]', [join(MIDI, "test-all-gm-sounds.mid")]);
  await page.waitForSelector('[data-testid="corpus-row"]');
  await page.click('[data-testid="preset-medium"]');
  // The benchmark shape: vocabulary 323, embedding 128, 2×256 LSTM, batch 32, sequence 128.
  await setFields(page, { "field-steps": STEPS, "field-epochs": 1, "field-batch": 32, "field-seq": 128 });
  await page.click('[data-testid="train-start"]');
  await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 300_000 });
  console.log(`medium model (2×256, batch 32 × 128), ${STEPS} training steps on Flex-wasm in the worker: ${await page.textContent('[data-testid="train-stats"]')}`);
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
