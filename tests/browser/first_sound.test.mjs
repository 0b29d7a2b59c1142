// First sound on a real connection: dist/ from a server that does not compress (as many static
// hosts), Chromium's network emulation at 20 Mbit/s with 100 ms latency. The first clip is written
// by the first clips' worker (no GPU or training stack) with the 8-bit starter; the training
// worker is never fetched for it, and nothing crosses the network twice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { served, withBrowser } from "./serve.mjs";
import { firstSound } from "./link.mjs";

/// Click → first note at 20 Mbit/s: the issue's target, 3 s (18.4 s before the first clips'
/// worker, the 8-bit starter and the gzipped worker wasm; 1.4–1.5 s after, BENCHMARKS.md).
const BOUND_MS = 3_000;

test("at 20 Mbit/s the first note sounds within the bound and the training worker is not fetched for it", { timeout: 300_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const r = await firstSound(browser, base, 20);
    console.log(`20 Mbit/s, 100 ms: page usable ${r.usable} ms; click → first note ${r.firstNote} ms; after the click: ${r.afterClick.join(", ")}`);
    assert.ok(r.afterClick.some((n) => n.startsWith("voice")), `the first clips' worker wrote the clip: ${r.afterClick.join(", ")}`);
    assert.ok(!r.requested.some((n) => n.startsWith("worker")), `the training worker was fetched: ${r.requested.join(", ")}`);
    // Nothing crossed the network twice (the service worker takes what the page loaded from the
    // HTTP cache): each wasm, the starter model and the sound bank are downloaded once.
    const names = served.map((p) => p.split("/").pop());
    const twice = names.filter((n) => /\.(wasm|cantor|sf2)$/.test(n)).filter((n, i, all) => all.indexOf(n) !== i);
    assert.deepEqual(twice, [], `downloaded twice: ${names.join(", ")}`);
    assert.ok(r.firstNote <= BOUND_MS, `click → first note took ${r.firstNote} ms at 20 Mbit/s`);
    assert.deepEqual(r.errors, []);
  });
});
