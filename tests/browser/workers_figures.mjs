// Figures for BENCHMARKS.md (a command, not a test): in-page CPU training tokens/s at the
// benchmark shape (medium preset: embedding 128, 2×256, vocabulary ~300; batch 32 × 128) with
// 1 and 2 workers, alternated in one page, K = 1 first. "Steady" times the steps between the
// reports at steps 5 and 15 (after the helpers' wasm has loaded); "shown" is the page's own figure
// (whole run, the first step's wait for the helpers included).
//
//   trunk build --release && node tests/browser/workers_figures.mjs [ROUNDS]
import { join } from "node:path";
import { ROOT, withBrowser, setFields, corpusSummary, openPage } from "./serve.mjs";

const MIDI = join(ROOT, "../shared/midi/jazz-soft-test-midi-files");
const ROUNDS = Number(process.argv[2] ?? 2);
const STEPS = 20;

await withBrowser(async (browser, base) => {
  const { page } = await openPage(browser, base);
  await page.setInputFiles('[data-testid="corpus-input"]', [join(MIDI, "test-all-gm-sounds.mid"), join(MIDI, "test-karaoke-kar.mid")]);
  await corpusSummary(page);
  await page.click('[data-testid="preset-medium"]');
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const rows = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const workers of [1, 2]) {
      await setFields(page, { "field-workers": workers, "field-steps": STEPS, "field-epochs": 1, "field-seq": 128, "field-batch": 32 });
      await page.click('[data-testid="train-start"]');
      const at = (step) => page.waitForFunction((s) => Number(document.querySelector('[data-testid="train-progress"]').getAttribute("value")) >= s, step, { timeout: 900_000, polling: 20 }).then(() => Date.now());
      const t5 = await at(5);
      const t15 = await at(15);
      await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 900_000 });
      const stats = await page.textContent('[data-testid="train-stats"]');
      const shown = Number(/([\d.]+) tokens\/s/.exec(stats)[1]);
      const steady = (10 * 32 * 128) / ((t15 - t5) / 1000);
      // The training worker's own rows, waiting for the helper's, summing and updating (ms/step).
      const split = await page.getAttribute('[data-testid="train-stats"]', "data-step-split");
      rows.push({ round, workers, steady_tokens_per_s: Math.round(steady), step_ms: Math.round((t15 - t5) / 10), shown_tokens_per_s: shown, own_wait_update_ms: split });
      console.log(JSON.stringify(rows.at(-1)));
    }
  }
  const mean = (k) => rows.filter((r) => r.workers === k).reduce((a, r) => a + r.steady_tokens_per_s, 0) / ROUNDS;
  console.log(JSON.stringify({ cores, ratio_2_over_1: +(mean(2) / mean(1)).toFixed(2) }));
});
