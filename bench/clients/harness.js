// Test harness for the JavaScript client: loaded into a page served by the runtime, it imports the
// client from the runtime's stable path and exposes plain-data calls for page.evaluate.
import { Client } from "/client/stars.js";

const rejections = [];
window.addEventListener("unhandledrejection", (event) => rejections.push(String(event.reason)));

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const text = (s) => new TextEncoder().encode(s);

// HS256 tokens minted in the page (the test's secret), so a token refresh never waits on the test.
async function mint(secret, claims) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: claims.iss, sub: claims.sub, iat: now, exp: now + claims.ttl, subscribe: claims.subscribe, publish: claims.publish };
  const body = `${b64url(text(JSON.stringify({ alg: "HS256", typ: "JWT" })))}.${b64url(text(JSON.stringify(payload)))}`;
  const key = await crypto.subtle.importKey("raw", text(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return `${body}.${b64url(await crypto.subtle.sign("HMAC", key, text(body)))}`;
}

const answer = (promise) => promise.then((value) => ({ value }), (err) => ({ error: err.code ?? String(err), status: err.status ?? null }));
const offset = (a) => ("value" in a ? { offset: a.value } : a);

let client = null;
const events = [];
const offsets = {};
const payloads = {};
const later = {};
let tokenCalls = 0;

window.harness = {
  async start(urls, options, secret, claims, failCalls, connect) {
    const token = async () => {
      tokenCalls += 1;
      if (failCalls.includes(tokenCalls)) throw new Error(`token service down (call ${tokenCalls})`);
      return mint(secret, claims);
    };
    client = new Client(urls, token, options);
    for (const name of ["state", "disconnected", "resubscribed", "recovered", "error", "connected"]) {
      client.on(name, (payload) => events.push([name, payload]));
    }
    client.on("message", (m) => {
      (offsets[m.channel] ??= []).push(m.offset);
      (payloads[m.channel] ??= []).push(m.data);
    });
    if (connect) await client.connect(20);
  },
  connect: () => client.connect(20),
  subscribe: (channel, since) => answer(client.subscribe(channel, { since })),
  unsubscribe: (channel) => answer(client.unsubscribe(channel)),
  publishMany: (channel, items) => Promise.all(items.map((d) => answer(client.publish(channel, d)).then(offset))),
  publishLater(channel, items) {
    const key = String(Object.keys(later).length);
    later[key] = Promise.all(items.map((d) => answer(client.publish(channel, d)).then(offset)));
    return key;
  },
  answers: (key) => later[key],
  history: (channel, since, limit) => answer(client.history(channel, { since, limit })),
  presence: (channel) => answer(client.presence(channel)),
  delivered: (channel) => offsets[channel] ?? [],
  payloads: (channel) => payloads[channel] ?? [],
  state: () => client.state,
  events: () => events,
  duplicatesDropped: () => client.duplicatesDropped,
  rejections: () => rejections,
  close: () => client?.close(),
};
