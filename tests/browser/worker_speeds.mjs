// Generation speed of the two workers in one page (for BENCHMARKS.md; a command, not a test): the
// starter's clips written by the first clips' worker (no GPU stack), then the same clips after
// choosing WebGPU swapped in the training worker (generation runs on the CPU in both).
// Run after `trunk build --release`: node tests/browser/worker_speeds.mjs
import { withBrowser } from "./serve.mjs";

const clips = async (page, label) => {
  for (let seed = 1; seed <= 3; seed++) {
    await page.fill('[data-testid="gen-seed"]', String(seed));
    await page.dispatchEvent('[data-testid="gen-seed"]', "change");
    const before = await page.textContent('[data-testid="gen-status"]');
    await page.click('[data-testid="generate"]');
    await page.waitForFunction((b) => { const t = document.querySelector('[data-testid="gen-status"]').textContent; return t !== b && /Generated \d+ notes/.test(t); }, before, { timeout: 120_000 });
    const text = await page.textContent('[data-testid="gen-status"]');
    const [, tokens, ms] = text.match(/\((\d+) tokens\) in (\d+) ms/);
    console.log(`${label}, seed ${seed}: ${tokens} tokens in ${ms} ms = ${Math.round(tokens / ms * 1000)} tokens/s`);
  }
};

await withBrowser(async (browser, base) => {
  const page = await browser.newPage();
  await page.goto(base);
  await page.fill('[data-testid="gen-beats"]', process.env.BEATS ?? "64");
  await page.dispatchEvent('[data-testid="gen-beats"]', "change");
  await clips(page, "first clips' worker");
  if (!(await page.locator("details").first().evaluate((d) => d.open))) await page.click("details summary");
  await page.selectOption('[data-testid="backend-choice"]', "gpu");
  await page.waitForFunction(() => /WebGPU|CPU/.test(document.querySelector('[data-testid="backend"]')?.textContent ?? "") && document.querySelector('[data-testid="backend"]').textContent !== "checking…", null, { timeout: 120_000 });
  console.log(`backend now: ${await page.textContent('[data-testid="backend"]')}`);
  await clips(page, "training worker");
});
