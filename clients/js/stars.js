// STARS runtime client for browsers: an ES module with no dependencies and no build step.
// It follows the client spec in runtime/README.md ("Client behaviour"), as the Python client in
// clients/python/ does, with the same options and events (camelCase here).

// Close codes after which reconnecting as is cannot help (runtime/protocol.py, reconnect=False).
// 4401 is not here: it means "get a new token", which the client does before reconnecting.
const NO_RECONNECT = new Set([1002, 1007, 1009]);
const UNAUTHORIZED = 4401;
export const EVENTS = Object.freeze([
  "state", "connecting", "connected", "disconnected", "resubscribed", "recovered", "message", "error",
]);

/** A rejected request: `code` is the protocol's error code or a client-side one (see the README). */
export class StarsError extends Error {
  constructor(code, message, status) {
    super(`${code}: ${message}`);
    this.name = "StarsError";
    this.code = code;
    this.detail = message;
    this.status = status;
  }
}

/** Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]. */
export function fullJitter(attempt, base, cap) {
  return Math.random() * Math.min(cap, base * 2 ** Math.min(attempt, 30));
}

/** The `exp` claim of a JWT (unix seconds), read without verifying: only to schedule a refresh. */
export function tokenExpiry(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
    return typeof claims?.exp === "number" && Number.isFinite(claims.exp) ? claims.exp : null;
  } catch {
    return null;
  }
}

/**
 * The token's transport, in one place: the `Sec-WebSocket-Protocol` header as the pair `bearer, <token>`
 * (the server answers `bearer`), so the token never appears in a URL, a proxy's log or the history.
 */
export function socketProtocols(token) {
  return ["bearer", token];
}

/** The URL form (`/ws?token=…`), which servers still accept; the client itself uses the header. */
export function socketUrl(base, token) {
  return `${base}${base.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
}

function httpBase(wsUrl) {
  const url = new URL(wsUrl);
  return `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`;
}

const isOffset = (v) => Number.isSafeInteger(v) && v >= 0;
const isRef = (v) => v === undefined || v === null || typeof v === "string" || Number.isSafeInteger(v);
const isText = (v) => typeof v === "string";
// Each server frame type and the check its fields must pass (runtime/README.md, server → client).
const CHECKS = {
  message: (f) => isText(f.channel) && isOffset(f.offset) && "data" in f,
  subscribed: (f) => isText(f.channel) && isOffset(f.offset),
  unsubscribed: (f) => isText(f.channel),
  ack: (f) => isRef(f.id) && isText(f.channel) && isOffset(f.offset),
  pong: () => true,
  error: (f) => isText(f.code) && isText(f.message) && isRef(f.id),
};

/** A server frame whose fields have the documented types, or a `{code, message}` problem. */
export function parseFrame(raw) {
  if (typeof raw !== "string") return { problem: ["bad_server_frame", "binary frame from the server"] };
  let frame;
  try {
    frame = JSON.parse(raw);
  } catch (err) {
    return { problem: ["bad_server_frame", `frame from the server is not JSON: ${err.message}`] };
  }
  if (frame === null || typeof frame !== "object" || Array.isArray(frame) || !isText(frame.type)) {
    return { problem: ["bad_server_frame", "frame from the server is not an object with a type"] };
  }
  const check = Object.hasOwn(CHECKS, frame.type) ? CHECKS[frame.type] : null;
  if (!check) return { problem: ["unknown_frame", `unknown frame type from the server: ${frame.type.slice(0, 40)}`] };
  if (!check(frame)) return { problem: ["bad_server_frame", `${frame.type} frame with missing or mistyped fields`] };
  return { frame };
}

/** Per-channel offsets: what the application was given, what a resubscribe must recover. */
class Channel {
  constructor(name, since, onMessage) {
    Object.assign(this, { name, since, onMessage, last: null, subscribed: false, recoverFrom: null, recoverTo: 0 });
    this.waiters = [];
  }
  subscribeFrame(id) {
    const frame = { type: "subscribe", channel: this.name, id };
    const since = this.last ?? this.since;
    if (since !== null && since !== undefined) frame.since = since;
    return frame;
  }
  onSubscribed(latest) {
    this.subscribed = true;
    if (this.last === null) {
      this.last = this.since ?? latest;
      return null;
    }
    if (latest > this.last) [this.recoverFrom, this.recoverTo] = [this.last, latest];
    return { channel: this.name, since: this.last, offset: latest };
  }
  classify(offset) {
    if (!this.subscribed || this.last === null) return "ignore";
    if (offset <= this.last) return "duplicate";
    return offset > this.last + 1 ? "gap" : "deliver";
  }
  delivered(offset) {
    this.last = offset;
    if (this.recoverFrom === null || offset < this.recoverTo) return null;
    const event = { channel: this.name, from: this.recoverFrom + 1, to: this.recoverTo, count: this.recoverTo - this.recoverFrom };
    this.recoverFrom = null;
    return event;
  }
  disconnected() {
    this.subscribed = false;
    this.recoverFrom = null;
  }
}

const DEFAULTS = {
  backoffBase: 0.5, backoffMax: 15, pingInterval: 10, pongTimeout: 10, publishTimeout: 15,
  maxBuffer: 100, maxFrameBytes: 65536, refreshMargin: 30, openTimeout: 10,
};

export class Client {
  /** `url`: one `ws(s)://host/ws` URL or several servers tried in turn; `token`: returns a JWT (or a
   * promise of one), called again before the token expires and whenever the server refuses it. */
  constructor(url, token, options = {}) {
    this.urls = Array.isArray(url) ? [...url] : [url];
    if (this.urls.length === 0) throw new TypeError("at least one server URL is needed");
    if (typeof token !== "function") throw new TypeError("token must be a function returning a JWT");
    this.tokenSource = token;
    this.options = { ...DEFAULTS, ...options };
    this.state = "disconnected";
    this.url = null;
    this.channels = new Map();
    this.duplicatesDropped = 0;
    this.listeners = Object.fromEntries(EVENTS.map((e) => [e, new Set()]));
    this.token = null;
    this.tokenExp = null;
    this.ws = null;
    this.ready = false;
    this.buffer = [];
    this.pending = new Map();
    this.subRefs = new Map();
    this.refs = 0;
    this.closed = false;
    this.started = false;
    this.attempt = 0;
    this.index = 0;
    this.forceToken = false;
    this.timers = new Set();
  }

  // -- events ------------------------------------------------------------------------------------

  /** Call `listener(payload)` on `event`; returns a function that removes it. */
  on(event, listener) {
    if (!this.listeners[event]) throw new TypeError(`unknown event ${event}; one of ${EVENTS.join(", ")}`);
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  emit(event, payload) {
    for (const listener of [...this.listeners[event]]) {
      try {
        listener(payload);
      } catch (err) {
        console.error(`stars: ${event} listener failed`, err); // an app bug must not break the state
      }
    }
  }

  setState(state, detail = {}) {
    this.state = state;
    this.emit("state", { state, ...detail });
    if (state === "connecting" || state === "connected") this.emit(state, detail);
  }

  later(seconds, fn) {
    const timer = setTimeout(() => { this.timers.delete(timer); fn(); }, seconds * 1000);
    this.timers.add(timer);
    return timer;
  }

  // -- lifecycle ---------------------------------------------------------------------------------

  /** Start connecting (and reconnecting); resolves once connected. */
  connect(timeout = null) {
    if (this.closed) return Promise.reject(new StarsError("closed", "the client is closed"));
    if (this.state === "connected") return Promise.resolve();
    const done = new Promise((resolve, reject) => {
      const off = [];
      const finish = (fn, arg) => { off.forEach((f) => f()); fn(arg); };
      off.push(this.on("connected", () => finish(resolve)));
      off.push(this.on("state", (s) => s.state === "closed" && finish(reject, new StarsError("closed", s.reason || "closed"))));
      if (timeout !== null) {
        const t = this.later(timeout, () => finish(reject, new StarsError("timeout", "not connected")));
        off.push(() => { clearTimeout(t); this.timers.delete(t); });
      }
    });
    if (!this.started) {
      this.started = true;
      this.open();
    }
    return done;
  }

  /** Close for good: pending and buffered publishes fail with `closed`. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.timers.forEach(clearTimeout);
    this.timers.clear();
    if (this.ws) this.ws.close(1000, "client closed");
    this.ws = null;
    this.failAll("closed", "the client was closed");
    this.setState("closed", { reason: "client closed" });
  }

  async open() {
    const url = this.urls[this.index % this.urls.length];
    this.setState("connecting", { url });
    let token;
    try {
      token = await this.getToken(this.forceToken);
    } catch (err) {
      this.emit("error", { code: "token_error", message: `token callback failed: ${err?.message ?? err}` });
      this.reconnect(null, "token_error", 0);
      return;
    }
    if (this.closed) return;
    this.forceToken = false;
    let ws;
    try {
      ws = new WebSocket(url, socketProtocols(token));
    } catch (err) {
      this.reconnect(null, `cannot connect: ${err.message}`, 0);
      return;
    }
    this.session(ws, url);
  }

  session(ws, url) {
    const s = { ws, opened: 0, dropReason: null, lastRx: Date.now(), pingedAt: 0, planned: false };
    this.ws = ws;
    this.current = s;
    const openTimer = this.later(this.options.openTimeout, () => ws.readyState === 0 && this.drop(s, "open timeout"));
    ws.onopen = () => {
      clearTimeout(openTimer);
      s.opened = Date.now();
      s.lastRx = Date.now();
      this.url = url;
      this.setState("connected", { url });
      for (const channel of this.channels.values()) this.sendSubscribe(channel);
      this.flush();
      this.keepalive(s);
      this.scheduleRefresh(s);
    };
    ws.onmessage = (event) => {
      s.lastRx = Date.now();
      if (this.current === s) this.onText(event.data);
    };
    ws.onclose = (event) => {
      clearTimeout(openTimer);
      if (this.current !== s) return;
      this.endSession(s);
      const code = s.planned ? 1000 : s.dropReason ? 1006 : event.code;
      const reason = s.dropReason || event.reason || (s.opened ? "connection lost" : "cannot connect");
      // A browser cannot tell a refused handshake (403) from a network failure: after a failed
      // handshake the next attempt takes a new token.
      if (!s.opened || code === UNAUTHORIZED) this.forceToken = true;
      this.reconnect(code, reason, s.opened ? (Date.now() - s.opened) / 1000 : 0, s.planned);
    };
  }

  endSession(s) {
    clearTimeout(s.pingTimer);
    clearTimeout(s.refreshTimer);
    this.ws = null;
    this.current = null;
    this.ready = false;
    this.subRefs.clear();
    for (const channel of this.channels.values()) channel.disconnected();
    this.failPending("connection_lost", "connection lost before the ack: stored or not");
  }

  /** End the current connection now (the reconnect loop resumes every channel). */
  drop(s, reason) {
    if (!s || this.current !== s || s.dropReason) return;
    s.dropReason = reason;
    // A browser cannot abort a socket: close it, and stop listening to it at once.
    try { s.ws.close(4000, reason.slice(0, 100)); } catch { /* already closing */ }
    s.ws.onclose({ code: 1006, reason });
  }

  reconnect(code, reason, lasted, planned = false) {
    if (this.closed) return;
    const o = this.options;
    const reconnect = !NO_RECONNECT.has(code);
    let delay = 0;
    if (!planned) {
      if (lasted > o.backoffMax) this.attempt = 0;
      delay = fullJitter(this.attempt, o.backoffBase, o.backoffMax);
      this.attempt += 1;
      this.index += 1;
    }
    const info = { code, reason, reconnect, delay: Math.round(delay * 1000) / 1000 };
    this.setState("disconnected", info);
    this.emit("disconnected", info);
    if (!reconnect) {
      this.closed = true;
      this.failAll("closed", `closed by the server (${code}: ${reason})`);
      this.setState("closed", { code, reason });
      return;
    }
    this.later(delay, () => this.open());
  }

  keepalive(s) {
    const o = this.options;
    const tick = Math.max(0.05, Math.min(o.pingInterval, o.pongTimeout) / 4);
    // A ping after pingInterval of silence; nothing received within pongTimeout of that ping means
    // the connection is dead. Judged from the ping's own time, so a timer that a background tab
    // delays cannot declare a live connection dead.
    const check = () => {
      if (this.current !== s) return;
      const now = Date.now();
      if (s.pingedAt > s.lastRx) {
        if ((now - s.pingedAt) / 1000 >= o.pongTimeout) return this.drop(s, "keepalive timeout");
      } else if ((now - s.lastRx) / 1000 >= o.pingInterval) {
        s.pingedAt = now;
        this.send('{"type":"ping"}');
      }
      s.pingTimer = setTimeout(check, tick * 1000);
    };
    s.pingTimer = setTimeout(check, tick * 1000);
  }

  send(text) {
    try {
      this.ws?.send(text);
      return true;
    } catch {
      return false; // the close event follows
    }
  }

  // -- token -------------------------------------------------------------------------------------

  async getToken(force = false) {
    const now = Date.now() / 1000;
    const fresh = this.tokenExp === null || this.tokenExp - now > Math.min(this.options.refreshMargin, 5);
    if (this.token !== null && fresh && !force) return this.token;
    const token = await this.tokenSource();
    if (typeof token !== "string" || token === "") throw new StarsError("token_error", "the token callback must return a non-empty string");
    this.token = token;
    this.tokenExp = tokenExpiry(token);
    return token;
  }

  /** Before the token expires: a new token, then a planned reconnect once no publish is in flight. */
  scheduleRefresh(s) {
    if (this.tokenExp === null) return;
    const now = Date.now() / 1000;
    const remaining = this.tokenExp - now;
    const wait = Math.max(0, remaining - Math.min(this.options.refreshMargin, remaining / 2));
    s.refreshTimer = setTimeout(async () => {
      try {
        await this.getToken(true);
      } catch (err) {
        this.emit("error", { code: "token_error", message: `token refresh failed: ${err?.message ?? err}` });
        return; // the server closes with 4401 at expiry; the reconnect asks again
      }
      this.ready = false; // new publishes wait in the buffer for the next connection
      const deadline = Date.now() + this.options.publishTimeout * 1000;
      while (this.pending.size && Date.now() < deadline && this.current === s) await new Promise((r) => setTimeout(r, 20));
      if (this.current !== s) return;
      s.planned = true;
      s.dropReason = "token refresh";
      s.ws.close(1000, "token refresh");
    }, wait * 1000);
  }

  // -- frames from the server --------------------------------------------------------------------

  onText(raw) {
    const { frame, problem } = parseFrame(raw);
    if (problem) return this.emit("error", { code: problem[0], message: problem[1] });
    if (frame.type === "message") this.onMessage(frame);
    else if (frame.type === "subscribed") this.onSubscribed(frame);
    else if (frame.type === "ack") {
      const p = this.pending.get(String(frame.id));
      if (p) { this.pending.delete(String(frame.id)); p.resolve(frame.offset); }
    } else if (frame.type === "error") this.onError(frame);
  }

  onMessage(frame) {
    const channel = this.channels.get(frame.channel);
    if (!channel) return;
    const verdict = channel.classify(frame.offset);
    if (verdict === "duplicate") this.duplicatesDropped += 1;
    else if (verdict === "gap") {
      this.emit("error", { code: "gap", message: `${channel.name}: offset ${frame.offset} after ${channel.last}; resuming from ${channel.last}` });
      this.drop(this.current, "gap");
    } else if (verdict === "deliver") {
      const recovered = channel.delivered(frame.offset);
      const message = { channel: channel.name, offset: frame.offset, data: frame.data };
      if (channel.onMessage) {
        try { channel.onMessage(message); } catch (err) { console.error(`stars: onMessage for ${channel.name} failed`, err); }
      }
      this.emit("message", message);
      if (recovered) this.emit("recovered", recovered);
    }
  }

  onSubscribed(frame) {
    const channel = this.channels.get(frame.channel);
    if (!channel) return;
    const resumed = channel.onSubscribed(frame.offset);
    channel.waiters.splice(0).forEach((w) => w.resolve(frame.offset));
    if (resumed) this.emit("resubscribed", resumed);
  }

  onError(frame) {
    const ref = frame.id === undefined || frame.id === null ? null : String(frame.id);
    const p = ref !== null ? this.pending.get(ref) : undefined;
    if (p) {
      this.pending.delete(ref);
      return p.reject(new StarsError(frame.code, frame.message));
    }
    const name = ref !== null ? this.subRefs.get(ref) : undefined;
    if (name !== undefined && this.channels.has(name)) {
      this.subRefs.delete(ref);
      return this.subscribeFailed(this.channels.get(name), frame.code, frame.message);
    }
    this.emit("error", { code: frame.code, message: frame.message });
    if (frame.code === "unavailable" && ref === null) this.drop(this.current, "replay stopped: database unavailable");
  }

  subscribeFailed(channel, code, text) {
    if (code === "unavailable") { // the database is back soon: resume the channel then
      this.emit("error", { code, message: `${channel.name}: ${text}; retrying` });
      return this.drop(this.current, `resubscribe of ${channel.name} failed: ${code}`);
    }
    this.channels.delete(channel.name);
    const waiters = channel.waiters.splice(0);
    waiters.forEach((w) => w.reject(new StarsError(code, text)));
    if (!waiters.length) this.emit("error", { code, message: `${channel.name}: ${text}`, channel: channel.name });
  }

  // -- requests ----------------------------------------------------------------------------------

  sendSubscribe(channel) {
    const ref = `s${++this.refs}`;
    this.subRefs.set(ref, channel.name);
    this.send(JSON.stringify(channel.subscribeFrame(ref)));
  }

  /** Subscribe (live after the current offset, or replay after `since` first); resolves with the
   * server's latest offset. The channel is resumed after every reconnect. */
  subscribe(name, { since = null, onMessage = null } = {}) {
    if (this.channels.has(name)) return Promise.reject(new StarsError("already_subscribed", `already subscribed to ${name}`));
    if (this.closed) return Promise.reject(new StarsError("closed", "the client is closed"));
    const channel = new Channel(name, since, onMessage);
    const answer = new Promise((resolve, reject) => channel.waiters.push({ resolve, reject }));
    this.channels.set(name, channel);
    if (this.ws && this.ws.readyState === 1) this.sendSubscribe(channel);
    return answer;
  }

  /** Stop receiving `name` (and stop resuming it). */
  unsubscribe(name) {
    const channel = this.channels.get(name);
    if (!channel) return Promise.reject(new StarsError("not_subscribed", `not subscribed to ${name}`));
    this.channels.delete(name);
    channel.waiters.splice(0).forEach((w) => w.reject(new StarsError("not_subscribed", `unsubscribed from ${name}`)));
    if (this.ws && this.ws.readyState === 1) this.send(JSON.stringify({ type: "unsubscribe", channel: name }));
    return Promise.resolve();
  }

  /** Store and broadcast `data`; resolves with its offset once acknowledged, rejects with a
   * StarsError carrying the server's code (`forbidden`, `rate_limited`, …) or a client-side one. */
  publish(channel, data) {
    if (this.closed) return Promise.reject(new StarsError("closed", "the client is closed"));
    const id = `p${++this.refs}`;
    let text;
    try {
      text = JSON.stringify({ type: "publish", channel, data, id });
    } catch (err) {
      return Promise.reject(new StarsError("bad_data", `data is not JSON: ${err.message}`));
    }
    if (data === undefined || text === undefined) return Promise.reject(new StarsError("bad_data", "data is undefined"));
    if (new TextEncoder().encode(text).length > this.options.maxFrameBytes) {
      return Promise.reject(new StarsError("too_large", `publish frame larger than ${this.options.maxFrameBytes} bytes`));
    }
    if (!this.ready && this.buffer.length >= this.options.maxBuffer) {
      return Promise.reject(new StarsError("buffer_full", `offline and ${this.options.maxBuffer} publishes already buffered`));
    }
    return new Promise((resolve, reject) => {
      const entry = { id, text, resolve, reject };
      entry.timer = this.later(this.options.publishTimeout, () => {
        this.pending.delete(id);
        this.buffer = this.buffer.filter((e) => e !== entry);
        reject(new StarsError("timeout", `no ack within ${this.options.publishTimeout} s`));
      });
      const settle = (fn) => (value) => { clearTimeout(entry.timer); this.timers.delete(entry.timer); fn(value); };
      entry.resolve = settle(resolve);
      entry.reject = settle(reject);
      if (this.ready) this.sendPublish(entry);
      else this.buffer.push(entry);
    });
  }

  sendPublish(entry) {
    this.pending.set(entry.id, entry);
    this.send(entry.text); // a failed send ends in the close event: connection_lost
  }

  /** Send what was buffered offline, in order, before new publishes go out directly. */
  flush() {
    for (const entry of this.buffer.splice(0)) this.sendPublish(entry);
    this.ready = true;
  }

  failPending(code, message) {
    const pending = [...this.pending.values()];
    this.pending.clear();
    pending.forEach((p) => p.reject(new StarsError(code, message)));
  }

  failAll(code, message) {
    this.failPending(code, message);
    this.buffer.splice(0).forEach((e) => e.reject(new StarsError(code, message)));
    for (const channel of this.channels.values()) channel.waiters.splice(0).forEach((w) => w.reject(new StarsError(code, message)));
  }

  // -- REST --------------------------------------------------------------------------------------

  /** Stored messages after `since` (`offset`, `data`, `published_at`), oldest first. */
  async history(channel, { since = 0, limit = 100 } = {}) {
    const body = await this.rest(`/api/channels/${encodeURIComponent(channel)}/messages?since=${since}&limit=${limit}`);
    return body.messages;
  }

  /** Who is subscribed to `channel`: `[{sub, connections}]`. */
  async presence(channel) {
    return (await this.rest(`/api/channels/${encodeURIComponent(channel)}/presence`)).users;
  }

  async rest(path) {
    const base = httpBase(this.url ?? this.urls[0]);
    for (const refreshed of [false, true]) {
      const token = await this.getToken(refreshed);
      let response;
      try {
        response = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
      } catch (err) {
        throw new StarsError("unavailable", `${base}: ${err.message}`);
      }
      if (response.status === 401 && !refreshed) continue;
      let body = null;
      try { body = await response.json(); } catch { /* not JSON */ }
      if (!response.ok || body === null || typeof body !== "object") {
        throw new StarsError(body?.error ?? `http_${response.status}`, body?.message ?? response.statusText, response.status);
      }
      return body;
    }
    throw new StarsError("unauthorized", "token refused");
  }
}
