// gaps.worker.mjs: the Workers KV REST endpoints that Miniflare's local
// explorer (/cdn-cgi/explorer/api) lacks, served by a worker on the
// same KV bindings, so that every request kvfs makes reaches the same
// simulated namespace.  faultproxy.py sends these requests here; the
// explorer serves the rest (GET and DELETE of values, PUT of values
// without an expiration, the key listing).
//
//   PUT    /gaps/NS_ID/values/KEY?expiration=S|expiration_ttl=S
//          raw body, or multipart with fields value and metadata
//   GET    /gaps/NS_ID/metadata/KEY
//   PUT    /gaps/NS_ID/bulk          JSON array of {key, value, base64,
//                                    expiration, expiration_ttl, metadata}
//   POST   /gaps/NS_ID/bulk/delete   JSON array of keys
//   DELETE /gaps/NS_ID/bulk          the same (the older route)
//
// TODO: PUT bulk stores its pairs one by one and stops at the first
// pair the binding refuses (an expiration under 60 s, a key too long),
// leaving the pairs before it stored; Cloudflare checks the whole
// request first.  A kvfs test importing a bad pair through the bulk
// endpoint would see partial writes here that the real API never makes.
//
// Answers use the API's envelope {success, errors, messages, result}.
// The KV binding's own checks (key and value limits, expirations at
// least 60 s ahead) give the errors, as 400 with the binding's message.

function envelope(result, status = 200, errors = []) {
  return new Response(
    JSON.stringify({ success: errors.length === 0, errors, messages: [],
                     result }),
    { status, headers: { "content-type": "application/json" } });
}

function fail(status, code, message) {
  return envelope(null, status, [{ code, message }]);
}

function numberParam(url, name) {
  const s = url.searchParams.get(name);
  if (s === null || s === "") return undefined;
  return Number(s);
}

function base64Bytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function putValue(request, kv, key, url) {
  let value;
  let metadata;
  const type = request.headers.get("content-type") || "";
  if (type.includes("multipart/form-data")) {
    const form = await request.formData();
    const v = form.get("value");
    if (v === null) return fail(400, 10001, "Missing value field");
    value = typeof v === "string" ? v : await v.arrayBuffer();
    const m = form.get("metadata");
    if (m !== null) {
      try {
        metadata = JSON.parse(typeof m === "string" ? m : await m.text());
      } catch {
        return fail(400, 10001, "Invalid metadata JSON");
      }
    }
  } else {
    value = await request.arrayBuffer();
  }
  const options = {};
  if (metadata !== undefined) options.metadata = metadata;
  const expiration = numberParam(url, "expiration");
  const ttl = numberParam(url, "expiration_ttl");
  if (expiration !== undefined) options.expiration = expiration;
  if (ttl !== undefined) options.expirationTtl = ttl;
  await kv.put(key, value, options);
  return envelope({});
}

async function getMetadata(kv, key) {
  const got = await kv.getWithMetadata(key, { type: "arrayBuffer" });
  if (got.value === null) return fail(404, 10009, "get: 'key not found'");
  return envelope(got.metadata ?? null);
}

async function bulkPut(request, kv) {
  const pairs = await request.json();
  if (!Array.isArray(pairs)) return fail(400, 10001, "body: not an array");
  if (pairs.length > 10000)
    return fail(400, 10001, "body: more than 10000 pairs");
  for (const p of pairs) {
    const options = {};
    if (p.metadata !== undefined) options.metadata = p.metadata;
    if (p.expiration !== undefined) options.expiration = p.expiration;
    if (p.expiration_ttl !== undefined) options.expirationTtl = p.expiration_ttl;
    const value = p.base64 ? base64Bytes(p.value) : p.value;
    await kv.put(p.key, value, options);
  }
  return envelope({ successful_key_count: pairs.length, unsuccessful_keys: [] });
}

async function bulkDelete(request, kv) {
  const keys = await request.json();
  if (!Array.isArray(keys)) return fail(400, 10001, "body: not an array");
  if (keys.length > 10000)
    return fail(400, 10001, "body: more than 10000 keys");
  for (const k of keys) await kv.delete(typeof k === "string" ? k : k.key);
  return envelope({ successful_key_count: keys.length, unsuccessful_keys: [] });
}

async function route(request, env) {
  const url = new URL(request.url);
  const m = url.pathname.match(/^\/gaps\/([^/]+)\/(values|metadata|bulk)(\/.*)?$/);
  if (!m) return fail(404, 10000, "no such route");
  const ids = JSON.parse(env.NAMESPACE_IDS);
  const i = ids.indexOf(decodeURIComponent(m[1]));
  if (i < 0) return fail(404, 10013, "namespace not found");
  const kv = env[`KV${i}`];
  const rest = m[3] ? m[3].slice(1) : "";
  const method = request.method;

  if (m[2] === "values" && method === "PUT" && rest)
    return putValue(request, kv, decodeURIComponent(rest), url);
  if (m[2] === "metadata" && method === "GET" && rest)
    return getMetadata(kv, decodeURIComponent(rest));
  if (m[2] === "bulk" && rest === "" && method === "PUT")
    return bulkPut(request, kv);
  if (m[2] === "bulk" && ((rest === "delete" && method === "POST") ||
                          (rest === "" && method === "DELETE")))
    return bulkDelete(request, kv);
  return fail(405, 10000, `${method} not served here`);
}

export default {
  async fetch(request, env) {
    try {
      return await route(request, env);
    } catch (e) {
      return fail(400, 10001, String(e && e.message ? e.message : e));
    }
  },
};
