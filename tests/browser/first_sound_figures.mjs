// Figures for BENCHMARKS.md (a command, not a test): page usable and click → first note over
// emulated 10 and 20 Mbit/s links with 100 ms latency, three visits each, from the uncompressing
// test server. Run after `trunk build --release`: node tests/browser/first_sound_figures.mjs
import { withBrowser } from "./serve.mjs";
import { firstSound } from "./link.mjs";

await withBrowser(async (browser, base) => {
  for (const mbit of [20, 10]) {
    for (let visit = 1; visit <= 3; visit++) {
      const r = await firstSound(browser, base, mbit);
      console.log(`${mbit} Mbit/s, 100 ms, visit ${visit}: page usable ${r.usable} ms, click → first note ${r.firstNote} ms; after the click: ${r.afterClick.join(", ")}`);
    }
  }
});
