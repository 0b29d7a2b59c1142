// Offline after first use: network first, the cache when the network fails. The cache is per
// build (`?v=` carries the app's content hash, see index.html): a new build installs a new worker,
// which takes the page's files into a new cache and drops the old one. The worker's files keep
// their names across builds, which is why the version is in the registration, not in file names.
const VERSION = new URL(self.location).searchParams.get("v") || "dev";
const CACHE = `cantor-${VERSION}`;
// What any visit needs: the page and the first clips' worker (`voice`, its wasm gzipped: see
// scripts/compress_workers.sh), which has loaded when the
// page registers this service worker, so they come from the HTTP cache. The training worker is
// kept when it is first used (the fetch handler below), not fetched here while the first clip is
// being written; the SoundFont and the starter model are cached when first used (the page puts
// them into "cantor-used" then, since the worker that fetched the SoundFont may have started
// before this service worker took control).
const SHELL = ["./", "./voice_loader.js", "./voice.js", "./voice_bg.wasm.gz"];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // From the HTTP cache where the page already loaded them ("force-cache"), not a second download.
    const get = (url) => new Request(url, { cache: "force-cache" });
    const index = await fetch(get("./"));
    const html = await index.clone().text();
    // The page's own content-hashed files, as Trunk wrote them into index.html.
    const assets = [...new Set(html.match(/\.\/[\w\-./]+\.(?:js|wasm|css)/g) || [])];
    await cache.put("./", index);
    await cache.addAll([...SHELL.slice(1), ...assets].map(get));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("cantor-") && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || request.headers.has("range")) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    // A page address (with or without index.html; a share link's fragment is never sent) is the page.
    const key = request.mode === "navigate" ? new URL("./", self.registration.scope).href : request;
    try {
      const response = await fetch(request);
      if (response.ok && response.type === "basic") await cache.put(key, response.clone());
      return response;
    } catch (offline) {
      const hit = await caches.match(key);
      if (hit) return hit;
      throw offline;
    }
  })());
});
