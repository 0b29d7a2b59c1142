// A form asked for in the generate panel: the sections are written, lettered on the piano roll,
// the returns show in the self-similarity picture, and a form Cantor cannot write gets a sentence.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withBrowser } from "./serve.mjs";

const generated = (page, before) =>
  page.waitForFunction((b) => {
    const t = document.querySelector('[data-testid="gen-status"]').textContent;
    return t !== b && /Generated \d+ notes/.test(t);
  }, before, { timeout: 150_000 });

test("a form in the generate panel gives lettered sections whose A returns exactly", { timeout: 240_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(base);
    // Lower case is not a form: a sentence, and nothing is generated.
    await page.fill('[data-testid="gen-form"]', "aaba");
    await page.dispatchEvent('[data-testid="gen-form"]', "change");
    await page.click('[data-testid="generate"]');
    await page.waitForSelector('[data-testid="error"]');
    assert.match(await page.textContent('[data-testid="error"]'), /Nothing was generated: A form is written in capital letters/);
    assert.doesNotMatch(await page.textContent('[data-testid="gen-status"]'), /Generated/);
    await page.click('[data-testid="error"]'); // dismiss

    await page.fill('[data-testid="gen-form"]', "AABA");
    await page.dispatchEvent('[data-testid="gen-form"]', "change");
    await page.fill('[data-testid="gen-section-bars"]', "2");
    await page.dispatchEvent('[data-testid="gen-section-bars"]', "change");
    assert.match(await page.textContent('[data-testid="gen-form-words"]'), /4 sections × 2 bars = 8 bars/);
    const before = await page.textContent('[data-testid="gen-status"]');
    await page.click('[data-testid="generate"]');
    await generated(page, before);
    const letters = await page.$$eval('[data-testid="roll-section"]', (ts) => ts.map((t) => t.textContent));
    assert.deepEqual(letters, ["A", "A", "B", "A"]);
    // The A section's two bars come back twice, note for note.
    const repeats = Number(await page.getAttribute('[data-testid="self-similarity"]', "data-repeats"));
    assert.ok(repeats >= 4, `${repeats} bars repeat an earlier bar`);

    // The link carries where the sections begin: a visitor sees the same letters at once.
    await page.click('[data-testid="copy-link"]');
    const link = await page.textContent('[data-testid="share-link"]');
    const visitor = await browser.newPage();
    await visitor.goto(link);
    await visitor.waitForSelector('[data-testid="roll-section"]');
    assert.deepEqual(await visitor.$$eval('[data-testid="roll-section"]', (ts) => ts.map((t) => t.textContent)), ["A", "A", "B", "A"]);
    await visitor.close();

    // Free again: no letters on the roll.
    await page.fill('[data-testid="gen-form"]', "");
    await page.dispatchEvent('[data-testid="gen-form"]', "change");
    const again = await page.textContent('[data-testid="gen-status"]');
    await page.click('[data-testid="generate"]');
    await generated(page, again);
    assert.equal(await page.locator('[data-testid="roll-section"]').count(), 0);
    assert.deepEqual(errors, []);
  });
});
