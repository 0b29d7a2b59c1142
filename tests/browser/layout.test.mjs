// The page for every visitor: an accessibility audit (axe-core) with no serious or critical
// violation, and at phone size no horizontal scrolling; screenshots at desktop and phone size are
// written to target/screenshots/ for a person to look at.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ROOT, withBrowser, backendChosen } from "./serve.mjs";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const SHOTS = join(ROOT, "target/screenshots");

async function audit(page) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

test("no serious accessibility violation, and a phone-size page without horizontal scrolling", { timeout: 180_000 }, async () => {
  await withBrowser(async (browser, base) => {
    await mkdir(SHOTS, { recursive: true });
    for (const [name, viewport] of [["desktop", { width: 1280, height: 900 }], ["phone", { width: 390, height: 844 }]]) {
      const context = await browser.newContext({ viewport, deviceScaleFactor: 1, isMobile: name === "phone", hasTouch: name === "phone" });
      const page = await context.newPage();
      await page.goto(base);
      await backendChosen(page);
      await page.click("details summary"); // the advanced fields too
      const serious = await audit(page);
      assert.deepEqual(serious, [], `${name}: ${JSON.stringify(serious, null, 1)}`);
      const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
      assert.ok(scroll <= width, `${name}: the page is ${scroll} px wide in a ${width} px window`);
      await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
      // On a touch screen the drop zone is one big file-picker button; with a mouse, a drop zone.
      assert.equal(await page.locator('[data-testid="dropzone"] .pick-words').isVisible(), name === "phone", `${name}: the picker button`);
      assert.equal(await page.locator('[data-testid="dropzone"] p.drop-words').isVisible(), name !== "phone", `${name}: the words about dropping`);
      // The temperature slider speaks in words and sets the number the link will carry.
      await page.locator('[data-testid="gen-temperature-slider"]').fill("1.5");
      assert.equal(await page.inputValue('[data-testid="gen-temperature"]'), "1.5");
      assert.match(await page.textContent('[data-testid="gen-temperature-words"]'), /very adventurous/);
      await page.locator('[data-testid="gen-temperature-slider"]').fill("0.8");
      assert.equal(await page.textContent('[data-testid="gen-temperature-words"]'), "safe");
      // Length in bars: with no model yet, bars of 4 beats; the beats field follows.
      await page.locator('[data-testid="gen-bars"]').fill("8");
      assert.equal(await page.inputValue('[data-testid="gen-beats"]'), "32");
      assert.match(await page.textContent('[data-testid="gen-bars-words"]'), /^8 bars, about 16 s at 120 bpm$/);
      // Every control can be reached and named: buttons and inputs have accessible names.
      const unnamed = await page.evaluate(() => [...document.querySelectorAll("button, input, select")]
        .filter((e) => !(e.labels?.length || e.getAttribute("aria-label") || e.textContent.trim() || e.title))
        .map((e) => e.outerHTML.slice(0, 80)));
      assert.deepEqual(unnamed, [], name);
      await context.close();
    }
  });
});
