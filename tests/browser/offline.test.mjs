// Offline after first use: the service worker keeps the page, the worker, the wasm and what was
// used (the starter model, the SoundFont), so with the network off a reload still generates and
// plays, and a share link still opens.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withBrowser } from "./serve.mjs";

const generatedAfter = (page, before) => page.waitForFunction((b) => {
  const t = document.querySelector('[data-testid="gen-status"]').textContent;
  return t !== b && /Generated \d+ notes/.test(t);
}, before, { timeout: 150_000 });

async function generateAndPlay(page) {
  const before = await page.textContent('[data-testid="gen-status"]');
  await page.click('[data-testid="generate"]');
  await generatedAfter(page, before);
  const notes = Number(await page.getAttribute('[data-testid="piano-roll"]', "data-notes"));
  assert.ok(notes > 0);
  await page.click('[data-testid="play"]');
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="play"]').dataset.scheduled) === n, notes, { timeout: 60_000 });
  return page.getAttribute('[data-testid="play"]', "data-sound");
}

test("after one use the page reloads, generates, plays and opens links with the network off", { timeout: 400_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(base);
    assert.equal(await generateAndPlay(page), "soundfont");
    // Once the worker was ready the service worker was registered; it has taken the page's and the
    // worker's files and now serves the page's requests.
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60_000 });
    await page.click('[data-testid="copy-link"]');
    const link = await page.textContent('[data-testid="share-link"]');

    await context.setOffline(true);
    await page.reload();
    await page.waitForSelector('[data-testid="train-start"]');
    const sound = await generateAndPlay(page);
    console.log(`offline: generated with the starter model and played with the ${sound}`);
    assert.equal(sound, "soundfont", "the SoundFont came from the cache");
    await page.goto("about:blank");
    await page.goto(link);
    await page.waitForSelector('[data-testid="shared-clip"]');
    assert.ok(Number(await page.getAttribute('[data-testid="piano-roll"]', "data-notes")) > 0);
    assert.deepEqual(errors, []);
    await context.close();
  });
});
