// Music on arrival: the first screen offers one action that plays a starter clip; one click and
// the clip sounds (the worker, the starter model and the SoundFont load on the way).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, withBrowser } from "./serve.mjs";

const SHOTS = join(ROOT, "target/screenshots");

test("a first visit hears a starter clip with one click", { timeout: 240_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(base);
    const hear = page.locator('[data-testid="hear-starter"]');
    assert.match(await page.textContent(".hero .lead"), /your MIDI files/);
    const t0 = Date.now();
    await hear.click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="play"]').dataset.scheduled) > 0, null, { timeout: 200_000 });
    console.log(`click to sound (worker, starter model, SoundFont and generation included): ${Date.now() - t0} ms`);
    assert.equal(await page.getAttribute('[data-testid="play"]', "data-sound"), "soundfont");
    assert.ok(Number(await page.getAttribute('[data-testid="piano-roll"]', "data-notes")) > 0);
    // The roll reads as music: a keyboard up the side, bar lines across it in the clip's meter.
    const beats = Number(await page.inputValue('[data-testid="gen-beats"]'));
    const bars = Number(await page.getAttribute('[data-testid="piano-roll"]', "data-bars"));
    assert.ok(bars >= beats / 8 && bars <= beats, `${bars} bar lines for ${beats} beats`);
    assert.ok(Number(await page.getAttribute('[data-testid="piano-roll"]', "data-keys")) >= 12, "at least an octave of keys");
    await mkdir(SHOTS, { recursive: true });
    await page.locator(".roll").screenshot({ path: join(SHOTS, "piano-roll.png") });
    assert.match(await page.textContent('[data-testid="model-row"]'), /Starter/);
    assert.deepEqual(errors, []);
  });
});
