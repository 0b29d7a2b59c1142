// Music on the first visit and honest evaluation, in the served page: the starter model generates
// and plays from a fresh page; fine-tuning the starter on the user's files; the evaluation panel
// (held-out figures, originality with listen-to-source, style table, classifier AUC) and the blind
// listening test with its tally and export.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, withBrowser, backendChosen, setFields, openPage } from "./serve.mjs";

const MIDI = join(ROOT, "../shared/midi/jazz-soft-test-midi-files");

test("a fresh page generates and plays with the starter model", { timeout: 180_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const t0 = Date.now();
    await page.goto(base);
    assert.match(await page.textContent('[data-testid="gen-status"]'), /starter model/);
    await page.click('[data-testid="generate"]');
    await page.waitForFunction(() => /Generated \d+ notes/.test(document.querySelector('[data-testid="gen-status"]').textContent), null, { timeout: 120_000 });
    const notes = Number(await page.getAttribute('[data-testid="piano-roll"]', "data-notes"));
    assert.ok(notes > 10, `the starter writes music: ${notes} notes`);
    await page.click('[data-testid="play"]');
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="play"]').dataset.scheduled) === n, notes, { timeout: 60_000 });
    assert.equal(await page.getAttribute('[data-testid="play"]', "data-sound"), "soundfont");
    console.log(`navigation to the first starter clip playing: ${Date.now() - t0} ms`);
    assert.match(await page.textContent('[data-testid="model-row"]'), /Starter: public-domain/);
    assert.deepEqual(errors, []);
  });
});

test("fine-tune the starter, evaluate, and take the blind listening test", { timeout: 400_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const { page, errors } = await openPage(browser, base, { acceptDownloads: true });
    await backendChosen(page);
    await page.setInputFiles('[data-testid="corpus-input"]', [
      join(MIDI, "test-all-gm-sounds.mid"), join(MIDI, "test-karaoke-kar.mid"),
      join(MIDI, "test-multichannel-chords-1.mid"), join(MIDI, "test-all-gs-sounds.mid"),
    ]);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="corpus-row"]').length === 4);
    await page.selectOption('[data-testid="train-from"]', "starter");
    await setFields(page, { "field-steps": 3, "field-epochs": 1, "field-seq": 32, "field-batch": 4 });
    await page.click('[data-testid="train-start"]');
    await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 200_000 });
    // Fine-tuning kept the starter's size (2×256), not the small preset's.
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="model-row"]')].some((r) => /2×256 LSTM/.test(r.textContent)));
    assert.match(await page.textContent('[data-testid="eval-heldout"]'), /nats per token.*perplexity/);

    // The evaluation runs by itself when training ends.
    await page.waitForSelector('[data-testid="eval-originality"]', { timeout: 120_000 });
    assert.equal(await page.locator('[data-testid="originality-row"]').count(), 6);
    const flags = await page.locator('[data-testid="originality-row"]').evaluateAll((rs) => rs.map((r) => r.dataset.flagged));
    assert.ok(flags.every((f) => f === "true" || f === "false"));
    assert.equal(await page.locator('[data-testid="eval-style"] tbody tr').count(), 17); // 7 style rows, 10 whole-piece rows (silence, each instrument's sounding share and repeated bars among them)
    // And again on demand.
    await page.click('[data-testid="evaluate"]');
    await page.waitForSelector('[data-testid="evaluate"]:not([disabled])', { timeout: 120_000 });
    assert.equal(await page.locator('[data-testid="originality-row"]').count(), 6);
    assert.match(await page.textContent('[data-testid="eval-auc"]'), /AUC (\d\.\d\d \[|too few)/);
    // Structure side by side: a file of the user's and a generated clip, bar by bar.
    for (const id of ["eval-similarity-real", "eval-similarity-generated"]) {
      assert.ok(Number(await page.getAttribute(`[data-testid="${id}"]`, "data-bars")) >= 4, `${id} draws its bars`);
    }
    // Listen to the training file a run came from (when any run was found).
    if ((await page.locator('[data-testid="play-source"]').count()) > 0) {
      const before = Number(await page.getAttribute('[data-testid="play"]', "data-scheduled"));
      await page.locator('[data-testid="play-source"]').first().click();
      await page.waitForFunction((b) => Number(document.querySelector('[data-testid="play"]').dataset.scheduled) !== b, before, { timeout: 60_000 });
    }

    // Blind listening test: play, pick, tally with an interval, export.
    assert.match(await page.textContent('[data-testid="listen-status"]'), /Pair 1 of \d/);
    await page.click('[data-testid="listen-play-a"]');
    await page.click('[data-testid="listen-pick-a"]');
    await page.click('[data-testid="listen-pick-b"]');
    assert.match(await page.textContent('[data-testid="listen-status"]'), /Pair 3 of/);
    assert.match(await page.textContent('[data-testid="listen-tally"]'), /of 2 times .*95 % interval \d+ %–\d+ %/);
    const [dl] = await Promise.all([page.waitForEvent("download"), page.click('[data-testid="listen-export"]')]);
    const results = JSON.parse(await readFile(await dl.path(), "utf8"));
    assert.equal(results.trials.filter((t) => t.picked_a !== null).length, 2);
    assert.ok(results.trials.every((t) => typeof t.machine_is_a === "boolean"));
    await mkdir(join(ROOT, "target-screens"), { recursive: true });
    await page.screenshot({ path: join(ROOT, "target-screens/evaluation.png"), fullPage: true });
    assert.deepEqual(errors, []);
  });
});
