// The GPU path at the size users train, counted as an outsider would: GPUComputePassEncoder's
// dispatchWorkgroups wrapped in the built page's training worker, each dispatch filed under the
// step the worker is in (it posts `cantorStep` between steps). The medium preset on WebGPU
// (SwiftShader's software adapter here), batch 8 × 32: every step under 100 dispatches; the work
// outside steps (the first step, the epoch's validation and snapshot) is reported beside.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, withBrowser, setFields, corpusSummary, openPage } from "./serve.mjs";

const MIDI = join(ROOT, "../shared/midi/jazz-soft-test-midi-files");
const STEPS = 6;

test("a training step of the medium preset in the page issues under 100 GPU dispatches", { timeout: 600_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const { page, errors } = await openPage(browser, base);
    await page.selectOption('select[aria-label="Backend"]', "gpu");
    await page.waitForFunction(() => document.querySelector('[data-testid="backend"]').textContent.startsWith("WebGPU"), null, { timeout: 300_000 });
    const worker = page.workers().find((w) => w.url().includes("worker_loader"));
    assert.ok(worker, `the training worker runs: ${page.workers().map((w) => w.url())}`);
    await worker.evaluate(() => {
      globalThis.dispatchesByStep = {};
      const pass = GPUComputePassEncoder.prototype, dispatch = pass.dispatchWorkgroups;
      pass.dispatchWorkgroups = function () {
        const k = globalThis.cantorStep ?? "before";
        globalThis.dispatchesByStep[k] = (globalThis.dispatchesByStep[k] || 0) + 1;
        return dispatch.apply(this, arguments);
      };
    });
    await page.setInputFiles('[data-testid="corpus-input"]', [join(MIDI, "test-all-gm-sounds.mid")]);
    await corpusSummary(page);
    await page.click('[data-testid="preset-medium"]');
    await setFields(page, { "field-steps": STEPS, "field-epochs": 1, "field-seq": 32, "field-batch": 8, "field-workers": 1 });
    await page.click('[data-testid="train-start"]');
    await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 500_000 });
    const counts = await worker.evaluate(() => globalThis.dispatchesByStep);
    console.log(`dispatches by step (key k: during step k + 1; "before": the first step; ${STEPS}: the epoch's end): ${JSON.stringify(counts)}`);
    for (let k = 1; k < STEPS; k++) assert.ok(counts[k] < 100, `step ${k + 1}: ${counts[k]} dispatches`);
    assert.deepEqual(errors, []);
  });
});
