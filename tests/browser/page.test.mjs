// End-to-end: the built page (dist/) served on loopback and driven in Debian's headless Chromium
// as a person would use it: add files (picker and drop), train, watch the curve, generate, play,
// download the .mid and import it again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, withBrowser, backendChosen, setFields, corpusSummary, openPage } from "./serve.mjs";

const MIDI = join(ROOT, "../shared/midi/jazz-soft-test-midi-files");
const SCREENS = join(ROOT, "target-screens");

const rows = (page) => page.locator('[data-testid="corpus-row"]');

test("drop files, train, generate, play, download and re-import", { timeout: 300_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const { page, errors } = await openPage(browser, base, { acceptDownloads: true });

    // Nothing heavy loads before it is needed: the worker, and with it the backend, starts on first use.
    assert.equal(await page.textContent('[data-testid="backend"]'), "chosen on first use");

    // A real file, a damaged one and a non-MIDI file through the file picker.
    await page.setInputFiles('[data-testid="corpus-input"]', [
      join(MIDI, "test-all-gm-sounds.mid"),
      join(MIDI, "test-corrupt-file-missing-byte.mid"),
      join(MIDI, "test-not-a-midi-file.mid"),
    ]);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="corpus-row"]').length === 3);
    assert.deepEqual(await rows(page).evaluateAll((rs) => rs.map((r) => r.dataset.status)), ["ok", "warning", "error"]);
    assert.match(await rows(page).nth(1).textContent(), /ends in the middle of track 1/);
    assert.match(await rows(page).nth(2).textContent(), /not a MIDI file/);

    // One more by drag and drop.
    const bytes = [...(await readFile(join(MIDI, "test-karaoke-kar.mid")))];
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], "dropped.kar", { type: "audio/midi" }));
      const zone = document.querySelector('[data-testid="dropzone"]');
      zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, bytes);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="corpus-row"]').length === 4);
    assert.equal(await rows(page).nth(3).getAttribute("data-status"), "ok");
    // Three files are few: each one's last bars are held out (not one whole file), and the page says so.
    assert.match(await corpusSummary(page), /3 usable file\(s\): 3 for training .* the last bars of 3 held out for validation .*3 files: the last 15 % of each file's bars is held out/);

    // Train a tiny model for a few steps and watch the curve grow.
    await page.click('[data-testid="preset-small"]');
    await setFields(page, { "field-steps": 10, "field-epochs": 2, "field-seq": 32, "field-batch": 8 });
    await page.click('[data-testid="train-start"]');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="loss-chart"]').dataset.points) >= 2, null, { timeout: 120_000 });
    await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 120_000 });
    // The backend is named; SwiftShader's software WebGPU is refused in favour of the CPU.
    assert.equal(await page.textContent('[data-testid="backend"]'), "CPU (Flex)");
    assert.match(await page.textContent('[data-testid="backend-reason"]'), /software fallback|no WebGPU|no adapter|timestamp-query/);
    assert.equal(await page.getAttribute('[data-testid="train-progress"]', "value"), "20");
    assert.match(await page.textContent('[data-testid="train-stats"]'), /tokens\/s/);
    // Why training ended and which model it kept.
    assert.match(await page.textContent('[data-testid="train-stopped"]'), /^Finished every epoch \(step 20 of 20\); the model .*is kept/);
    // A few bars to hear after each of the two epochs; one click shows and plays one.
    assert.equal(await page.locator('[data-testid="epoch-sample"]').count(), 2);
    await page.locator('[data-testid="epoch-sample"]').first().click();
    assert.match(await page.textContent(".roll figcaption"), /^After epoch \d+: \d+ notes/);
    await page.click('[data-testid="stop"]');

    // A longer run: pause, resume, then stop early; the model trained so far is kept.
    await page.fill('[data-testid="field-steps"]', "400");
    await page.dispatchEvent('[data-testid="field-steps"]', "change");
    await page.click('[data-testid="train-start"]');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="train-progress"]').getAttribute("value")) >= 5, null, { timeout: 60_000 });
    await page.click('[data-testid="train-pause"]');
    await page.waitForSelector('[data-testid="train-stats"][data-status="paused"]', { timeout: 60_000 });
    // Pausing keeps the model trained so far in the browser: a second model row appears.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="model-row"]').length >= 2, null, { timeout: 30_000 });
    const pausedAt = Number(await page.getAttribute('[data-testid="train-progress"]', "value"));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(Number(await page.getAttribute('[data-testid="train-progress"]', "value")), pausedAt, "no steps while paused");
    await page.click('[data-testid="train-resume"]');
    await page.waitForFunction((p) => Number(document.querySelector('[data-testid="train-progress"]').getAttribute("value")) > p, pausedAt, { timeout: 60_000 });
    await page.click('[data-testid="train-stop"]');
    await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 60_000 });
    assert.ok(Number(await page.getAttribute('[data-testid="train-progress"]', "value")) < 800, "stopped early");

    // Generate, see notes in the piano roll.
    await page.fill('[data-testid="gen-beats"]', "16");
    await page.dispatchEvent('[data-testid="gen-beats"]', "change");
    await page.click('[data-testid="generate"]');
    // (The roll shows an epoch's sample until the clip arrives.)
    await page.waitForFunction(() => /Generated \d+ notes/.test(document.querySelector('[data-testid="gen-status"]').textContent), null, { timeout: 60_000 });
    const notes = Number(await page.getAttribute('[data-testid="piano-roll"]', "data-notes"));
    assert.ok(notes > 0);
    assert.match(await page.textContent('[data-testid="gen-status"]'), new RegExp(`Generated ${notes} notes`));
    // Beside the roll, the clip's structure: a bar-by-bar self-similarity picture, a cell per pair of bars.
    const bars = Number(await page.getAttribute('[data-testid="self-similarity"]', "data-bars"));
    assert.ok(bars >= 2, `${bars} bars in the picture`);
    assert.equal(await page.locator('[data-testid="self-similarity"] rect.cell').count(), bars * bars);
    assert.match(await page.textContent(".similarity figcaption"), new RegExp(`bar by bar \\(${bars} bars\\)`));

    // Play: the worker renders the notes with the SoundFont, the buffer is scheduled on the audio
    // clock, and the playhead moves.
    await page.click('[data-testid="play"]');
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="play"]').dataset.scheduled) === n, notes, { timeout: 60_000 });
    assert.equal(await page.getAttribute('[data-testid="play"]', "data-sound"), "soundfont");
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="playhead"]')?.getAttribute("x1")) > 0);
    await mkdir(SCREENS, { recursive: true });
    await page.screenshot({ path: join(SCREENS, "page.png"), fullPage: true });
    await page.click('[data-testid="stop"]');

    // Download the .mid and import it again: same number of notes.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-testid="download-mid"]')]);
    assert.match(download.suggestedFilename(), /^cantor-seed\d+\.mid$/);
    const saved = join(SCREENS, download.suggestedFilename());
    await download.saveAs(saved);
    await page.setInputFiles('[data-testid="corpus-input"]', saved);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="corpus-row"]').length === 5);
    const last = rows(page).nth(4);
    assert.equal(await last.getAttribute("data-status"), "ok");
    assert.equal(await last.locator("td").nth(3).textContent(), String(notes));

    assert.deepEqual(errors, []);
  });
});

// Start pressed the moment files are added (the worker is not even running yet): training waits
// for them to be read instead of starting without them.
test("training started while files are still being read waits for them, then trains on them", { timeout: 200_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const { page, errors } = await openPage(browser, base);
    await page.click('[data-testid="preset-small"]');
    await setFields(page, { "field-hidden": 32, "field-embed": 16, "field-steps": 3, "field-epochs": 1, "field-seq": 32, "field-batch": 4 });
    // Whether Start was ever disabled with its reason shown, seen by the page itself.
    await page.evaluate(() => {
      window.sawWaiting = false;
      new MutationObserver(() => {
        if (document.querySelector('[data-testid="train-start"]').disabled && document.querySelector('[data-testid="train-waits"]')) window.sawWaiting = true;
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.setInputFiles('[data-testid="corpus-input"]', join(MIDI, "test-karaoke-kar.mid"));
    await page.click('[data-testid="train-start"]'); // waits while the button is disabled
    await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 120_000 });
    assert.ok(await page.evaluate(() => window.sawWaiting), "Start waited, saying why");
    assert.equal(await rows(page).count(), 1);
    assert.equal(await page.locator('[data-testid="error"]').count(), 0, "no error: the file was there when training started");
    assert.deepEqual(errors, []);
  });
});

test("choosing WebGPU trains in the worker and the model is saved with async reads", { timeout: 400_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const { page, errors } = await openPage(browser, base);
    await backendChosen(page);
    await page.selectOption('select[aria-label="Backend"]', "gpu");
    await page.waitForFunction(() => document.querySelector('[data-testid="backend"]').textContent.startsWith("WebGPU"), null, { timeout: 120_000 });
    // SwiftShader is slow but correct: the page says so and still lets the user choose it.
    assert.match(await page.textContent('[data-testid="backend-reason"]'), /you chose WebGPU.*software fallback/);

    await page.setInputFiles('[data-testid="corpus-input"]', [join(MIDI, "test-karaoke-kar.mid"), join(MIDI, "test-multichannel-chords-1.mid")]);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="corpus-row"]').length === 2);
    // A multi-track file offers its tracks; leaving one out changes what is learned.
    const toggles = rows(page).nth(1).locator('[data-testid="track-toggle"]');
    assert.ok((await toggles.count()) >= 2);
    const before = await corpusSummary(page);
    await toggles.first().uncheck();
    await corpusSummary(page, before);
    await setFields(page, { "field-layers": 1, "field-hidden": 16, "field-embed": 8, "field-steps": 2, "field-epochs": 1, "field-seq": 8, "field-batch": 2 });
    await page.click('[data-testid="train-start"]');
    await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 300_000 });
    assert.equal(await page.getAttribute('[data-testid="train-progress"]', "value"), "2");
    // The model came back from the GPU (async copy to the CPU) and generates.
    await page.fill('[data-testid="gen-beats"]', "4");
    await page.dispatchEvent('[data-testid="gen-beats"]', "change");
    await page.click('[data-testid="generate"]');
    await page.waitForFunction(() => /Generated \d+ notes/.test(document.querySelector('[data-testid="gen-status"]').textContent), null, { timeout: 60_000 });
    assert.equal(await page.locator('[data-testid="error"]').count(), 0);
    assert.deepEqual(errors, []);
  });
});
