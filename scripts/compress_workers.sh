#!/usr/bin/env bash
# Trunk post-build hook: the workers' wasm gzipped beside the plain file, and each worker's loader
# fetching the gzipped one and unpacking it with the browser's DecompressionStream (the plain file
# where a browser lacks it). Static hosts that do not compress (python's http.server, many others)
# then send 1.0 MB instead of 4.7 MB before the first note (BENCHMARKS.md, "First sound").
set -euo pipefail
cd "${TRUNK_STAGING_DIR:?run by trunk as a post_build hook}"
for name in voice worker; do
  [ -f "${name}_bg.wasm" ] || continue
  gzip -9 -n -c "${name}_bg.wasm" > "${name}_bg.wasm.gz"
  cat > "${name}_loader.js" <<JS
importScripts("./${name}.js");
wasm_bindgen(typeof DecompressionStream === "function"
  ? fetch("./${name}_bg.wasm.gz").then((r) => {
      if (!r.ok) throw new Error("failed to fetch ./${name}_bg.wasm.gz: " + r.status);
      return new Response(r.body.pipeThrough(new DecompressionStream("gzip")), { headers: { "Content-Type": "application/wasm" } });
    })
  : "./${name}_bg.wasm");
JS
done
