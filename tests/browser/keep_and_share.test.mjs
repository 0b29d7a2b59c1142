// Sharing and keeping, in the served page: a clip's link plays in a fresh browser with nothing
// stored, hostile links are refused in words, work survives a reload, model files go both ways
// between the page and the `cantor` command line, WAV export, and storage failures are shown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir, homedir } from "node:os";
import { join } from "node:path";
import { ROOT, withBrowser, backendChosen, setFields } from "./serve.mjs";

const MIDI = join(ROOT, "../shared/midi/jazz-soft-test-midi-files");
const CANTOR = join(process.env.CARGO_TARGET_DIR ?? join(homedir(), ".cache/cantor-target"), "release/cantor");
const rows = (page) => page.locator('[data-testid="corpus-row"]');
const notesShown = (page) => page.getAttribute('[data-testid="piano-roll"]', "data-notes").then(Number);

async function trainTiny(page, steps = "5") {
  await page.click('[data-testid="preset-small"]');
  await setFields(page, { "field-hidden": 32, "field-embed": 16, "field-steps": steps, "field-epochs": 1, "field-seq": 32, "field-batch": 4 });
  await page.click('[data-testid="train-start"]');
  await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 120_000 });
}

async function generate(page, beats = "16") {
  await page.fill('[data-testid="gen-beats"]', beats);
  await page.dispatchEvent('[data-testid="gen-beats"]', "change");
  const before = await page.textContent('[data-testid="gen-status"]');
  await page.click('[data-testid="generate"]');
  await page.waitForFunction((b) => {
    const t = document.querySelector('[data-testid="gen-status"]').textContent;
    return t !== b && /Generated \d+ notes/.test(t);
  }, before, { timeout: 60_000 });
  return notesShown(page);
}

// Served from a sub-path, as a static host serves a project page (/apps/cantor/): the built dist/
// uses relative URLs, and the links it makes open there.
test("from a sub-path, a clip's link plays in a fresh browser, regenerates where the model is, and hostile links are refused", { timeout: 400_000 }, async () => {
  await withBrowser(async (browser, base) => {
    assert.ok(base.endsWith("/apps/cantor/"));
    // Make a clip and its link.
    const maker = await browser.newPage();
    const errors = [];
    maker.on("pageerror", (e) => errors.push(String(e)));
    await maker.goto(base);
    await backendChosen(maker);
    await maker.setInputFiles('[data-testid="corpus-input"]', [join(MIDI, "test-karaoke-kar.mid"), join(MIDI, "test-all-gm-sounds.mid")]);
    await trainTiny(maker);
    // A barely trained model writes dense bars: four beats keep the whole clip inside one link.
    const notes = await generate(maker, "4");
    assert.ok(notes > 0);
    await maker.click('[data-testid="copy-link"]');
    const link = await maker.textContent('[data-testid="share-link"]');
    assert.ok(link.startsWith(`${base}#c1.`), link);
    assert.ok(link.length <= 2000, `a 4-beat clip fits in ${link.length} characters`);
    assert.match(await maker.textContent('[data-testid="share-note"]'), /characters/);

    // Where the model is (same browser: it was kept in IndexedDB), "regenerate" gives the same clip.
    await maker.goto("about:blank");
    await maker.goto(link);
    await maker.waitForSelector('[data-testid="shared-clip"]');
    await maker.waitForSelector('[data-testid="regenerate"]:not([disabled])', { timeout: 30_000 });
    await maker.click('[data-testid="regenerate"]');
    await maker.waitForFunction(() => /note for note/.test(document.querySelector('[data-testid="regenerated"]').textContent), null, { timeout: 60_000 });
    assert.equal(await notesShown(maker), notes);
    const regenerated = await maker.textContent('[data-testid="gen-status"]');
    await maker.click('[data-testid="vary"]');
    await maker.waitForFunction((b) => document.querySelector('[data-testid="gen-status"]').textContent !== b, regenerated, { timeout: 60_000 });
    assert.doesNotMatch(await maker.textContent('[data-testid="gen-status"]'), /seed 1\./, "vary picks a new seed");
    assert.deepEqual(errors, []);

    // A fresh browser (new profile: no model, nothing stored) shows the clip and plays it.
    const context = await browser.newContext({ acceptDownloads: true });
    const visitor = await context.newPage();
    visitor.on("pageerror", (e) => errors.push(String(e)));
    await visitor.goto(link);
    await visitor.waitForSelector('[data-testid="shared-clip"]');
    assert.equal(await notesShown(visitor), notes);
    assert.match(await visitor.textContent('[data-testid="shared-clip"]'), new RegExp(`${notes} notes.*seed 1, temperature 1, top-p 0.95`));
    assert.ok(await visitor.isDisabled('[data-testid="regenerate"]'), "no model here: nothing to regenerate with");
    // It starts playing by itself (this Chromium allows sound without a gesture; elsewhere the
    // first tap starts it), and ▶ Play plays it again.
    await visitor.waitForFunction((n) => Number(document.querySelector('[data-testid="play"]').dataset.scheduled) === n, notes, { timeout: 60_000 });
    await visitor.click('[data-testid="stop"]');
    await visitor.waitForFunction(() => !document.querySelector('[data-testid="playhead"]'));
    await visitor.click('[data-testid="shared-play"]');
    await visitor.waitForFunction(() => Number(document.querySelector('[data-testid="playhead"]')?.getAttribute("x1")) > 0, null, { timeout: 60_000 });
    assert.equal(await visitor.getAttribute('[data-testid="play"]', "data-sound"), "soundfont");
    await mkdir(join(ROOT, "target-screens"), { recursive: true });
    await visitor.screenshot({ path: join(ROOT, "target-screens/shared-link.png"), fullPage: true });
    const [mid] = await Promise.all([visitor.waitForEvent("download"), visitor.click('[data-testid="download-mid"]')]);
    assert.match(mid.suggestedFilename(), /^cantor-seed1\.mid$/);
    await context.close();

    // Hostile links: a plain message, no clip, nothing injected, no crash.
    for (const [fragment, message] of [
      ["c1.AAAA", /damaged|incomplete/],
      ["c9.eJxjYAAAAAQAAQ", /different version/],
      ["c1.<img src=x onerror=window.pwned=1>", /damaged/],
      [`c1.${"A".repeat(300000)}`, /far too long/],
    ]) {
      const page = await browser.newPage();
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${base}#${fragment}`);
      await page.waitForSelector('[data-testid="share-error"]');
      assert.match(await page.textContent('[data-testid="share-error"]'), message);
      assert.equal(await page.locator('[data-testid="shared-clip"]').count(), 0);
      assert.equal(await page.evaluate(() => document.querySelectorAll("main img").length + (window.pwned ?? 0)), 0);
      await page.close();
    }
    assert.deepEqual(errors, []);
  }, "/apps/cantor/");
});

test("corpus, model and clips survive a reload; model files go both ways with the CLI; WAV export", { timeout: 400_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "cantor-keep-"));
  await withBrowser(async (browser, base) => {
    const context = await browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(base);
    await backendChosen(page);
    await page.setInputFiles('[data-testid="corpus-input"]', [
      join(MIDI, "test-karaoke-kar.mid"), join(MIDI, "test-all-gm-sounds.mid"), join(MIDI, "test-not-a-midi-file.mid"),
    ]);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="corpus-row"]').length === 3);
    await rows(page).nth(1).locator('input[type="checkbox"]').first().uncheck(); // leave a file out
    await trainTiny(page);
    await generate(page, "8");
    await page.waitForSelector('[data-testid="clip-row"]');

    // WAV export: progress shown while the worker renders, then a real WAV file.
    await page.evaluate(() => {
      window.wavProgress = [];
      new MutationObserver(() => {
        const p = document.querySelector('[data-testid="wav-progress"]');
        if (p) window.wavProgress.push(Number(p.value));
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    const [wav] = await Promise.all([page.waitForEvent("download"), page.click('[data-testid="download-wav"]')]);
    assert.match(wav.suggestedFilename(), /^cantor-seed1\.wav$/);
    const wavBytes = await readFile(await wav.path());
    assert.equal(wavBytes.subarray(0, 4).toString(), "RIFF");
    assert.equal(wavBytes.subarray(8, 12).toString(), "WAVE");
    assert.ok(wavBytes.length > 44 + 44100 * 4, "at least a second of 16-bit stereo");
    assert.ok((await page.evaluate(() => window.wavProgress.length)) > 0, "a progress bar was shown");

    // Reload: the files (with the user's choices), the model and the clip come back.
    await page.reload();
    await backendChosen(page);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="corpus-row"]').length === 3);
    assert.deepEqual(await rows(page).evaluateAll((rs) => rs.map((r) => r.dataset.status)), ["ok", "ok", "error"]);
    assert.equal(await rows(page).nth(1).locator('input[type="checkbox"]').first().isChecked(), false);
    await page.waitForSelector('[data-testid="model-row"]');
    assert.equal(await page.locator('[data-testid="model-row"]').count(), 1);
    assert.ok(Number(await page.getAttribute('[data-testid="loss-chart"]', "data-points")) >= 1, "the curve came back with the model");
    assert.ok((await page.locator('[data-testid="clip-row"]').count()) >= 1);
    assert.ok(await page.isEnabled('[data-testid="generate"]'), "the kept model generates without training again");
    await generate(page, "4");

    // Export → the command line generates from it.
    const [exported] = await Promise.all([page.waitForEvent("download"), page.click('[data-testid="model-export"]')]);
    const fromPage = join(dir, "from-page.cantor");
    await exported.saveAs(fromPage);
    execFileSync(CANTOR, ["generate", fromPage, "--out", join(dir, "cli.mid"), "--beats", "8"], { stdio: "pipe" });
    assert.equal((await readFile(join(dir, "cli.mid"))).subarray(0, 4).toString(), "MThd");

    // The command line trains → the page imports and generates; a non-model file is refused.
    const fromCli = join(dir, "from-cli.cantor");
    execFileSync(CANTOR, ["train", join(MIDI, "test-karaoke-kar.mid"), join(MIDI, "test-c-major-scale.mid"), "--out", fromCli,
      "--hidden", "16", "--embed", "8", "--layers", "1", "--epochs", "1", "--steps-per-epoch", "2", "--seq-len", "16", "--batch", "2"], { stdio: "pipe" });
    await page.setInputFiles('[data-testid="model-import"]', fromCli);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="model-row"]').length === 2);
    await generate(page, "4");
    const junk = join(dir, "junk.cantor");
    await writeFile(junk, "not a model");
    await page.setInputFiles('[data-testid="model-import"]', junk);
    await page.waitForFunction(() => /not a Cantor model file/.test(document.querySelector('[data-testid="error"]')?.textContent ?? ""));
    assert.equal(await page.locator('[data-testid="model-row"]').count(), 2, "nothing was lost");
    assert.deepEqual(errors, []);
    await context.close();
  });
});

test("when the browser refuses storage the page says so and keeps working", { timeout: 120_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      const refuse = () => { throw new DOMException("The user denied permission to access the database.", "SecurityError"); };
      Object.defineProperty(window, "indexedDB", { value: { open: refuse, deleteDatabase: refuse } });
    });
    const page = await context.newPage();
    await page.goto(base);
    await page.waitForSelector('[data-testid="error"]');
    assert.match(await page.textContent('[data-testid="error"]'), /storage.*Private windows/);
    await page.setInputFiles('[data-testid="corpus-input"]', join(MIDI, "test-karaoke-kar.mid"));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="corpus-row"]').length === 1);
    assert.equal(await rows(page).first().getAttribute("data-status"), "ok");
    await context.close();
  });
});
