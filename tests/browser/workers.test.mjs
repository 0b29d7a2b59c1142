// Training on every core: the CPU path's steps shared with helper workers (one per core). Two
// workers follow one worker's loss curve at the same global batch, and a helper that is ended
// mid-run leaves training going on the other with the model intact.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, withBrowser, setFields, corpusSummary, openPage } from "./serve.mjs";

const MIDI = join(ROOT, "../shared/midi/jazz-soft-test-midi-files");

/// Trains the small preset for `steps` steps with `workers` workers; returns the loss curve.
async function train(page, workers, steps, during = async () => {}) {
  await setFields(page, { "field-workers": workers, "field-steps": steps, "field-epochs": 1, "field-seq": 32, "field-batch": 8 });
  await page.click('[data-testid="train-start"]');
  await during();
  await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 180_000 });
  const losses = (await page.getAttribute('[data-testid="loss-chart"]', "data-losses")).split(" ").map(Number);
  return { losses, workers: Number(await page.getAttribute('[data-testid="train-stats"]', "data-workers")), stats: await page.textContent('[data-testid="train-stats"]') };
}

test("two workers train as one does, and lose a helper without losing the run", { timeout: 400_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const { page, errors } = await openPage(browser, base);
    await page.setInputFiles('[data-testid="corpus-input"]', [join(MIDI, "test-all-gm-sounds.mid"), join(MIDI, "test-karaoke-kar.mid")]);
    await corpusSummary(page);
    await page.click('[data-testid="preset-small"]');

    const one = await train(page, 1, 20);
    assert.equal(one.workers, 1);
    const two = await train(page, 2, 20);
    assert.equal(two.workers, 2, two.stats);
    assert.match(two.stats, /step 20 of 20.*tokens\/s on 2 workers/);
    // The same curve: same batches, same starting weights; only dropout's random masks differ
    // (each worker draws its own), so each logged mean loss agrees within 3 %.
    assert.equal(two.losses.length, one.losses.length);
    one.losses.forEach((l, i) => assert.ok(Math.abs(two.losses[i] - l) / l < 0.03, `point ${i}: ${two.losses[i]} vs ${l}`));

    // End the helper after a few steps: training finishes every step on the training worker.
    const lost = await train(page, 2, 40, async () => {
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="train-progress"]').getAttribute("value")) >= 5, null, { timeout: 120_000 });
      await page.evaluate(() => globalThis.cantorHelpers[0].terminate());
    });
    assert.match(lost.stats, /step 40 of 40/);
    assert.equal(lost.workers, 1, "the lost helper was dropped");
    assert.ok(lost.losses.every(Number.isFinite), `${lost.losses}`);
    assert.ok(lost.losses.at(-1) < lost.losses[0], `it kept learning: ${lost.losses}`);
    // The model it kept generates.
    await page.click('[data-testid="generate"]');
    await page.waitForFunction(() => /Generated \d+ notes/.test(document.querySelector('[data-testid="gen-status"]').textContent), null, { timeout: 120_000 });
    assert.deepEqual(errors, []);
  });
});
