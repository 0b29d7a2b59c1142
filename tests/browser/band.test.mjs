// A band file (drums, bass, guitar, keys, lead) dropped into the page trains a model that plays a
// band: the generate panel offers the instruments the files hold, the piano roll colours them, and
// the downloaded .mid has several programs and drums on channel 10 at the files' tempo.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, withBrowser, backendChosen, setFields, corpusSummary, openPage } from "./serve.mjs";

const FIXTURES = join(ROOT, "tests/fixtures");
const SCREENS = join(ROOT, "target-screens");

/// What a Standard MIDI File holds: programs per channel, note-ons per channel, tempo (bpm).
function scanMidi(bytes) {
  const u32 = (i) => (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3];
  const programs = new Set(), channels = new Map();
  let bpm = null;
  let i = 8 + u32(4);
  while (i + 8 <= bytes.length) {
    const end = i + 8 + u32(i + 4);
    let p = i + 8, status = 0;
    while (p < end) {
      while (bytes[p] & 0x80) p++; // delta time
      p++;
      if (bytes[p] === 0xff) {
        const type = bytes[p + 1];
        let len = 0, q = p + 2;
        while (bytes[q] & 0x80) len = (len << 7) | (bytes[q++] & 0x7f);
        len = (len << 7) | bytes[q++];
        if (type === 0x51) bpm = 60e6 / ((bytes[q] << 16) | (bytes[q + 1] << 8) | bytes[q + 2]);
        p = q + len;
        continue;
      }
      if (bytes[p] & 0x80) status = bytes[p++];
      const kind = status & 0xf0, ch = status & 0x0f;
      if (kind === 0xc0 || kind === 0xd0) {
        if (kind === 0xc0) programs.add(bytes[p]);
        p += 1;
      } else {
        if (kind === 0x90 && bytes[p + 1] > 0) channels.set(ch, (channels.get(ch) ?? 0) + 1);
        p += 2;
      }
    }
    i = end;
  }
  return { programs, channels, bpm };
}

test("a band file trains a model that generates a band with drums", { timeout: 300_000 }, async () => {
  await withBrowser(async (browser, base) => {
    const { page, errors } = await openPage(browser, base, { acceptDownloads: true });
    await backendChosen(page);
    await page.setInputFiles('[data-testid="corpus-input"]', [join(FIXTURES, "band.mid"), join(FIXTURES, "band2.mid")]);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="corpus-row"]').length === 2);
    // Every instrument and the drums are learned by default, at the files' tempo.
    const summary = await corpusSummary(page);
    assert.match(summary, /Drums/);
    assert.match(summary, /at 1(08|16|24) bpm in 4\/4/);

    await setFields(page, { "field-layers": 1, "field-hidden": 32, "field-embed": 16, "field-steps": 10, "field-epochs": 1, "field-seq": 32, "field-batch": 4 });
    await page.click('[data-testid="train-start"]');
    await page.waitForSelector('[data-testid="train-stats"][data-status="done"]', { timeout: 200_000 });

    // The generate panel offers the band's instruments; ask for all of them.
    const boxes = page.locator('[data-testid="gen-instrument"]');
    await boxes.first().waitFor();
    assert.ok((await boxes.count()) >= 4, "drums, bass, guitar, keys offered");
    for (let k = 0; k < (await boxes.count()); k++) await boxes.nth(k).check();
    await page.fill('[data-testid="gen-beats"]', "16");
    await page.dispatchEvent('[data-testid="gen-beats"]', "change");
    await page.click('[data-testid="generate"]');
    await page.waitForFunction(() => /Generated \d+ notes/.test(document.querySelector('[data-testid="gen-status"]').textContent), null, { timeout: 120_000 });
    assert.ok(Number(await page.getAttribute('[data-testid="piano-roll"]', "data-instruments")) >= 3, "the piano roll colours several instruments");
    assert.match(await page.textContent('[data-testid="roll-legend"]'), /Drums/);
    await mkdir(SCREENS, { recursive: true });
    await page.screenshot({ path: join(SCREENS, "band.png"), fullPage: true });

    const [download] = await Promise.all([page.waitForEvent("download"), page.click('[data-testid="download-mid"]')]);
    const midi = scanMidi(new Uint8Array(await readFile(await download.path())));
    assert.ok(midi.channels.get(9) > 0, "drums on channel 10");
    assert.ok([...midi.channels.keys()].filter((c) => c !== 9).length >= 2, `more than one melodic instrument: ${[...midi.channels.keys()]}`);
    assert.ok(midi.programs.size >= 2, "a program change per instrument");
    assert.ok(Math.abs(midi.bpm - 116) <= 8.5, `the corpus's tempo, not 120 by default: ${midi.bpm}`);
    assert.deepEqual(errors, []);
  });
});
