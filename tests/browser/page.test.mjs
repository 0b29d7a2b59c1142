// The built page (dist/) served on loopback and opened in headless Chromium with a software
// WebGPU adapter, as a visitor would open it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile, mkdir } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { chromium } from "playwright-core";

const DIST = new URL("../../dist/", import.meta.url).pathname;
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" };

function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)).replace(/^\/+/, "");
    try {
      const body = await readFile(join(DIST, path || "index.html"));
      res.writeHead(200, { "content-type": TYPES[extname(path || "index.html")] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

test("the page loads, names its backend and runs the core on the built-in example", { timeout: 240_000 }, async () => {
  const server = await serve();
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader",
      "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForSelector('[data-testid="demo"][data-status="done"]', { timeout: 200_000 });
    assert.equal(await page.textContent('[data-testid="backend"]'), "CPU (Flex)");
    const probe = await page.textContent('[data-testid="gpu-probe"]');
    // SwiftShader is a software fallback: the page must say so rather than train on it.
    assert.match(probe, /software fallback|no WebGPU|no adapter|timestamp-query/);
    const demo = await page.textContent('[data-testid="demo"]');
    const m = demo.match(/loss ([\d.]+) → ([\d.]+)\) and generated (\d+) notes/);
    assert.ok(m, demo);
    assert.ok(Number(m[2]) < Number(m[1]), `loss went down: ${demo}`);
    assert.ok(Number(m[3]) > 0, demo);
    assert.deepEqual(errors, []);
    await mkdir(new URL("../../target-screens/", import.meta.url), { recursive: true }).catch(() => {});
    await page.screenshot({ path: new URL("../../target-screens/page.png", import.meta.url).pathname, fullPage: true });
  } finally {
    await browser.close();
    server.close();
  }
});
