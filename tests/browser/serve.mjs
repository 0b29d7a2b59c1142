// Shared by the browser test and page_metrics.mjs: dist/ served on a loopback port, and Debian's
// Chromium launched headless with a software WebGPU adapter.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const DIST = join(ROOT, "dist");
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" };

/// Every path the test server was asked for, in order (what really crossed the network, where a
/// browser's request may have been answered from its cache).
export const served = [];

/// Serves dist/ under `prefix` (a sub-path such as "/apps/cantor/", as a project page is hosted);
/// anything outside it is a 404.
export function serve(prefix = "/") {
  const server = createServer(async (req, res) => {
    const url = decodeURIComponent(new URL(req.url, "http://x").pathname);
    served.push(url);
    if (!url.startsWith(prefix)) return res.writeHead(404).end();
    const path = normalize(`/${url.slice(prefix.length)}`).replace(/^\/+/, "") || "index.html";
    let body;
    try {
      body = await readFile(join(DIST, path));
    } catch {
      return res.writeHead(404).end();
    }
    res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" });
    res.end(body);
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

export function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader",
      "--autoplay-policy=no-user-gesture-required", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

/// A new page at `url` (`options` as for `browser.newPage`) with its uncaught errors collected, so
/// a test can assert there were none: { page, errors }.
export async function openPage(browser, url, options = undefined) {
  const page = await browser.newPage(options);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  return { page, errors };
}

/// Waits until the worker has chosen a backend.
export function backendChosen(page) {
  return page.waitForFunction(() => {
    const t = document.querySelector('[data-testid="backend"]')?.textContent;
    return t && t !== "checking…";
  }, null, { timeout: 120_000 });
}

/// The corpus summary once the worker has read and counted the files (it says "Reading…" or
/// "Counting…" meanwhile); `unlike`: wait for a text other than this one too.
export async function corpusSummary(page, unlike = null) {
  await page.waitForFunction((u) => {
    const t = document.querySelector('[data-testid="corpus-summary"]').textContent;
    return !/^(Reading|Counting)/.test(t) && t !== u;
  }, unlike);
  return page.textContent('[data-testid="corpus-summary"]');
}

/// Opens the training section's advanced fields and sets them: { "field-steps": "10", … }.
export async function setFields(page, fields) {
  if (!(await page.locator("#train details").first().evaluate((d) => d.open))) await page.click("#train details summary");
  for (const [id, v] of Object.entries(fields)) {
    await page.fill(`[data-testid="${id}"]`, String(v));
    await page.dispatchEvent(`[data-testid="${id}"]`, "change");
  }
}

/// Runs `body(browser, base)` with dist/ served and Chromium launched, and closes both after.
export async function withBrowser(body, prefix = "/") {
  const server = await serve(prefix);
  const browser = await launch();
  try {
    return await body(browser, `http://127.0.0.1:${server.address().port}${prefix}`);
  } finally {
    await browser.close();
    server.close();
  }
}
