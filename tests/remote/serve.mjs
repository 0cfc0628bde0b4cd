// serve.mjs: Miniflare on 127.0.0.1 for kvfs's tests of remote
// namespaces.  Starts one worker with a KV namespace per id given on
// the command line and the local explorer on, which serves the Workers
// KV REST API under
//   http://127.0.0.1:PORT/cdn-cgi/explorer/api/accounts/ANY/storage/kv/
//     namespaces/ID/...
// Prints that base URL (up to /cdn-cgi/explorer/api) on stdout as one
// line once it answers, then stays in the foreground until SIGTERM or
// SIGINT, when it disposes of Miniflare and exits 0.
//
// The worker (gaps.worker.mjs) serves, on the same namespaces, the
// REST endpoints the explorer lacks, under /gaps/ID/...; faultproxy.py
// sends those requests there.
//
// Usage: node serve.mjs [--port N] [--persist DIR] ID...
//   --port N       listen on N (default 0: a free port the kernel picks)
//   --persist DIR  keep the namespaces' data in DIR (default: in memory)

import { readFileSync } from "node:fs";
import { Miniflare } from "miniflare";

function usage(msg) {
  process.stderr.write(`serve.mjs: ${msg}\n`);
  process.stderr.write("usage: node serve.mjs [--port N] [--persist DIR] ID...\n");
  process.exit(2);
}

let port = 0;
let persist = false;
const ids = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--port") {
    port = Number(argv[++i]);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      usage("bad --port");
  } else if (argv[i] === "--persist") {
    persist = argv[++i];
    if (!persist) usage("--persist needs a folder");
  } else if (argv[i].startsWith("-")) {
    usage(`unknown option ${argv[i]}`);
  } else {
    ids.push(argv[i]);
  }
}
if (ids.length === 0) usage("give at least one namespace id");

// One binding per namespace; the names only matter inside the worker.
const kvNamespaces = {};
ids.forEach((id, i) => {
  kvNamespaces[`KV${i}`] = id;
});

const mf = new Miniflare({
  modules: true,
  // The source, not its path: Miniflare resolves a scriptPath against
  // the working directory and refuses one outside it.
  script: readFileSync(new URL("gaps.worker.mjs", import.meta.url), "utf8"),
  bindings: { NAMESPACE_IDS: JSON.stringify(ids) },
  kvNamespaces,
  kvPersist: persist,
  unsafeLocalExplorer: true,
  host: "127.0.0.1",
  port,
});

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    await mf.dispose();
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));

try {
  const url = await mf.ready;
  const base = new URL("/cdn-cgi/explorer/api", url).href;
  process.stdout.write(base + "\n");
} catch (e) {
  process.stderr.write(`serve.mjs: Miniflare did not start: ${e.stack || e}\n`);
  await stop(1);
}
