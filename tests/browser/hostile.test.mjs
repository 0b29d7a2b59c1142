// Bad input in the served page: out-of-range settings are refused with a sentence before anything
// starts, a stranger's hostile model file is refused on import and the page still generates with
// the starter, and a worker that dies is replaced with the work kept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, withBrowser, backendChosen, setFields, corpusSummary, openPage } from "./serve.mjs";

const MIDI = join(ROOT, "../shared/midi/jazz-soft-test-midi-files");

/// The starter model with its header saying `hidden: 2^31` (a 70-exabyte model if anyone built
/// it; a number that still fits the page's 32-bit sizes, so the bounds check is what refuses it).
async function hostileModel() {
  const bytes = await readFile(join(ROOT, "static/starter/starter.cantor"));
  const len = bytes.readUInt32LE(8);
  const header = JSON.parse(bytes.subarray(12, 12 + len).toString("utf8"));
  header.model.hidden = 2 ** 31;
  const json = Buffer.from(JSON.stringify(header));
  const size = Buffer.alloc(4);
  size.writeUInt32LE(json.length);
  return Buffer.concat([bytes.subarray(0, 8), size, json, bytes.subarray(12 + len)]);
}

const generated = (page) => page.waitForFunction(() => /Generated \d+ notes/.test(document.querySelector('[data-testid="gen-status"]').textContent), null, { timeout: 150_000 });

test("out-of-range settings give a sentence and nothing starts", { timeout: 120_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const sent = [];
    await page.goto(base);
    await backendChosen(page);
    await page.setInputFiles('[data-testid="corpus-input"]', [join(MIDI, "test-c-major-scale.mid")]);
    await page.waitForSelector('[data-testid="corpus-row"]');
    // The input carries its bounds.
    await setFields(page, {});
    assert.equal(await page.getAttribute('[data-testid="field-batch"]', "min"), "1");
    await setFields(page, { "field-batch": 0 });
    const problem = await page.textContent('[data-testid="field-batch-problem"]');
    assert.match(problem, /batch size must be a whole number from 1 to \d+; 0 is not/);
    await page.click('[data-testid="train-start"]');
    await page.waitForSelector('[data-testid="error"]');
    assert.match(await page.textContent('[data-testid="error"]'), /Training did not start: The batch size/);
    assert.equal(await page.getAttribute('[data-testid="train-stats"]', "data-status"), "idle");
    assert.match(await page.textContent('[data-testid="train-stats"]'), /Not trained yet/);
    // Put right, the field's sentence goes away.
    await setFields(page, { "field-batch": 4 });
    assert.equal(await page.locator('[data-testid="field-batch-problem"]').count(), 0);

    // A temperature the share link could not carry never makes a clip.
    await page.click('[data-testid="error"]'); // dismiss
    await page.fill('[data-testid="gen-temperature"]', "12");
    await page.dispatchEvent('[data-testid="gen-temperature"]', "change");
    assert.match(await page.textContent('[data-testid="gen-temperature-problem"]'), /temperature must be from 0 to 5; 12 is not/);
    await page.click('[data-testid="generate"]');
    await page.waitForSelector('[data-testid="error"]');
    assert.match(await page.textContent('[data-testid="error"]'), /Nothing was generated: The temperature/);
    assert.doesNotMatch(await page.textContent('[data-testid="gen-status"]'), /Generat(ed|ing)/, "no clip");
    assert.ok(await page.locator('[data-testid="copy-link"]').isDisabled(), "no clip, so no link to refuse later");
    assert.deepEqual(errors, []);
  });
});

test("a hostile model file is refused on import and the starter still generates", { timeout: 240_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const { page, errors } = await openPage(browser, base);
    await backendChosen(page);
    await page.setInputFiles('[data-testid="model-import"]', { name: "gift.cantor", mimeType: "application/octet-stream", buffer: await hostileModel() });
    await page.waitForSelector('[data-testid="error"]');
    const sentence = await page.textContent('[data-testid="error"]');
    assert.match(sentence, /gift\.cantor could not be imported: this model file describes a model Cantor cannot use: The hidden size must be a whole number from 1 to \d+; 2147483648 is not/);
    assert.doesNotMatch(sentence, /\{|Error\(|Some\(/, "words, not Rust Debug text");
    assert.equal(await page.locator('[data-testid="model-row"]').count(), 0, "nothing kept");
    await page.click('[data-testid="generate"]');
    await generated(page);
    assert.match(await page.textContent('[data-testid="model-row"]'), /Starter/);
    assert.deepEqual(errors, []);
  });
});

test("a worker that dies is replaced and the page keeps working", { timeout: 240_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const page = await browser.newPage();
    await page.goto(base);
    await backendChosen(page);
    await page.setInputFiles('[data-testid="corpus-input"]', [join(MIDI, "test-c-major-scale.mid")]);
    await page.waitForSelector('[data-testid="corpus-row"]');
    // The worker starts on first use: choosing a backend is one.
    await page.selectOption('[data-testid="backend-choice"]', "cpu");
    await page.waitForFunction(() => document.querySelector('[data-testid="backend"]').textContent === "CPU (Flex)", null, { timeout: 60_000 });
    const [worker] = page.workers();
    assert.ok(worker, "the page runs a worker");
    const closed = new Promise((ok) => worker.on("close", ok));
    // An uncaught error in the worker, as a trap outside a message handler would raise.
    await worker.evaluate(() => setTimeout(() => { throw new Error("simulated crash"); }, 0));
    await page.waitForFunction(() => /background worker stopped unexpectedly \(.*simulated crash.*\)\. A fresh one was started/.test(document.querySelector('[data-testid="error"]')?.textContent ?? ""));
    await closed; // the dead one was ended, and a fresh one answers:
    await backendChosen(page);
    assert.equal(await page.locator('[data-testid="corpus-row"]').count(), 1, "the files are kept");
    await page.click('[data-testid="generate"]');
    await generated(page);
    assert.ok(Number(await page.getAttribute('[data-testid="piano-roll"]', "data-notes")) > 0);
    // The fresh worker is sent the files again (the worker reads and tokenises them): training works.
    await setFields(page, { "field-layers": 1, "field-hidden": 16, "field-embed": 8, "field-steps": 2, "field-epochs": 1, "field-seq": 8, "field-batch": 2 });
    await page.click('[data-testid="train-start"]');
    await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 120_000 });
  });
});

test("a dropped file the browser cannot read says why and the rest is read", { timeout: 120_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const { page, errors } = await openPage(browser, base);
    await page.waitForSelector('[data-testid="dropzone"]');
    const bytes = [...(await readFile(join(MIDI, "test-c-major-scale.mid")))];
    await page.evaluate((bytes) => {
      // As when a dropped file was moved or deleted before the page could read it.
      const read = File.prototype.arrayBuffer;
      File.prototype.arrayBuffer = function () {
        return this.name === "moved.mid" ? Promise.reject(new DOMException("A requested file could not be read.", "NotReadableError")) : read.call(this);
      };
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], "moved.mid", { type: "audio/midi" }));
      dt.items.add(new File([new Uint8Array(bytes)], "scale.mid", { type: "audio/midi" }));
      document.querySelector('[data-testid="dropzone"]').dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, bytes);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="corpus-row"]').length === 2);
    const rows = page.locator('[data-testid="corpus-row"]');
    assert.deepEqual(await rows.evaluateAll((rs) => rs.map((r) => r.dataset.status)), ["error", "ok"]);
    assert.match(await rows.nth(0).textContent(), /the browser could not read this file \(A requested file could not be read\.\); was it moved/);
    assert.doesNotMatch(await rows.nth(0).textContent(), /0 bytes|empty/);
    assert.match(await corpusSummary(page), /^1 usable file\(s\)/);
    assert.deepEqual(errors, []);
  });
});
