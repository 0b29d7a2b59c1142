// A first visit over an emulated link (Chromium's network emulation: throughput and latency) from
// the test server, which does not compress: page usable (the first screen's button is there) and
// click → first note of the starter clip. Shared by first_sound.test.mjs and first_sound_figures.mjs.
const MBIT = 1e6 / 8;

export async function firstSound(browser, base, mbit, latency = 100) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const requested = [];
  context.on("request", (r) => requested.push(new URL(r.url()).pathname.split("/").pop() || "index.html"));
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency, downloadThroughput: mbit * MBIT, uploadThroughput: mbit * MBIT });
  const t0 = Date.now();
  await page.goto(base);
  await page.locator('[data-testid="hear-starter"]').waitFor();
  const usable = Date.now() - t0;
  const before = requested.length;
  const t1 = Date.now();
  await page.click('[data-testid="hear-starter"]');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="play"]').dataset.scheduled) > 0, null, { timeout: 240_000, polling: 20 });
  const firstNote = Date.now() - t1;
  const afterClick = [...new Set(requested.slice(before))];
  await context.close();
  return { usable, firstNote, requested, afterClick, errors };
}
