#!/usr/bin/env node
// A CRM command connector: node cli.js check|sync|push|serve --config FILE [--state FILE]
// [--stream NAME] [--port N]. Prints one JSON message a line on stdout (RECORD, DELETE, STATE,
// LOG); diagnostics go to stderr. Node's standard library only: fetch, http, crypto, fs.
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const crypto = require("node:crypto");
const readline = require("node:readline");

const STREAMS = ["contacts", "companies", "deals"];
const EVENT_STREAMS = { contact: "contacts", company: "companies", deal: "deals" };
const CREATE_FIELDS = {
  contacts: ["email", "first_name", "last_name", "phone", "company_id", "lifecycle_stage", "tags", "custom_fields"],
};
const RETRYABLE = new Set([500, 502, 503, 504]);
const ATTEMPTS = 6;
const TIMEOUT_MS = 15000;
const TOLERANCE_S = 300; // webhook timestamps: 5 minutes either way (Standard Webhooks default)

class PlatformError extends Error {}

function args(argv) {
  const out = { command: argv[0] };
  for (let i = 1; i < argv.length; i += 2) out[argv[i].replace(/^--/, "")] = argv[i + 1];
  return out;
}

function emit(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

// One process per call: its correlation id (sync_id) is on every log line; each request gets an
// X-Request-Id, logged with its response; the last one is what a failure's log line names.
const SYNC_ID = crypto.randomUUID();
let lastRequest = "";
const log = (level, message, fields = {}) => emit({ type: "LOG", level, message, sync_id: SYNC_ID, ...fields });
const logged = (method, url, response, requestId) => {
  lastRequest = `${method} ${new URL(url).pathname} -> ${response.status}`;
  log("debug", "request", { request: lastRequest, request_id: requestId });
  return response;
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Exponential backoff with equal jitter: half the step fixed, half random.
const backoff = (attempt) => {
  const step = Math.min(8000, 200 * 2 ** attempt);
  return step / 2 + Math.random() * (step / 2);
};

class Client {
  constructor(config) {
    this.config = config;
    this.base = config.base_url.replace(/\/+$/, "");
    this.token = null;
    this.tokenExpires = 0;
    this.interval = 0; // ms between requests, once a 429 said how fast the platform allows
    this.nextAt = 0;
  }

  async pace() {
    const now = Date.now();
    const delay = this.nextAt - now;
    this.nextAt = Math.max(now, this.nextAt) + this.interval;
    if (delay > 0) await sleep(delay);
  }

  rateLimited(response) {
    const policy = response.headers.get("ratelimit-policy") || "";
    const q = /(?:^|;)\s*q=(\d+)/.exec(policy);
    const w = /(?:^|;)\s*w=(\d+)/.exec(policy);
    if (q && w && Number(q[1]) > 0) this.interval = Math.max(this.interval, (1000 * Number(w[1])) / Number(q[1]) / 0.9);
    const seconds = Number(response.headers.get("retry-after"));
    this.nextAt = Math.max(this.nextAt, Date.now() + (Number.isFinite(seconds) && seconds >= 0 ? seconds : 1) * 1000);
  }

  async accessToken(renew = false) {
    if (!renew && this.token && Date.now() < this.tokenExpires) return this.token;
    const form = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: this.config.client_id,
      client_secret: this.config.client_secret,
      scope: this.config.scopes.join(" "),
    });
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      await this.pace();
      let response, body;
      try {
        const requestId = crypto.randomUUID();
        const init = { method: "POST", body: form, headers: { "X-Request-Id": requestId }, signal: AbortSignal.timeout(TIMEOUT_MS) };
        response = logged("POST", this.config.token_url, await fetch(this.config.token_url, init), requestId);
        body = response.status === 200 ? await response.json() : null;
      } catch (err) {
        await sleep(backoff(attempt));
        continue;
      }
      if (response.status === 200) {
        const lifetime = Number(body.expires_in) * 1000;
        this.token = body.access_token;
        this.tokenExpires = Date.now() + lifetime - Math.min(30000, lifetime / 5);
        log("info", "access token issued", { expires_in: body.expires_in });
        return this.token;
      }
      if (response.status === 429) this.rateLimited(response);
      else if (RETRYABLE.has(response.status)) await sleep(backoff(attempt));
      else throw new PlatformError(`the token endpoint refused the credentials (status ${response.status})`);
    }
    throw new PlatformError(`the token endpoint did not answer after ${ATTEMPTS} attempts`);
  }

  async call(method, path, { query, json, headers } = {}) {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(query || {})) if (v !== null && v !== undefined) url.searchParams.set(k, String(v));
    let renewed = false;
    let last = "";
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const token = await this.accessToken();
      await this.pace();
      let response, body;
      try {
        const requestId = crypto.randomUUID();
        const sent = await fetch(url, {
          method,
          headers: {
            Authorization: `Bearer ${token}`,
            "X-Request-Id": requestId,
            ...(json ? { "Content-Type": "application/json" } : {}),
            ...headers,
          },
          body: json ? JSON.stringify(json) : undefined,
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        response = logged(method, url, sent, requestId);
        const text = await response.text();
        body = response.status < 300 && text ? JSON.parse(text) : null;
      } catch (err) {
        // dropped connection, timeout, or a body cut off mid-way (bad JSON): try again
        last = err.name || "network error";
        await sleep(backoff(attempt));
        continue;
      }
      const status = response.status;
      if (status < 300) return body;
      if (status === 401 && !renewed) {
        renewed = true;
        await this.accessToken(true);
        continue;
      }
      last = String(status);
      if (status === 429) {
        this.rateLimited(response);
        continue;
      }
      if (RETRYABLE.has(status)) {
        await sleep(backoff(attempt));
        continue;
      }
      throw new PlatformError(`${method} ${path} -> ${status}`);
    }
    throw new PlatformError(`${method} ${path}: gave up after ${ATTEMPTS} attempts (last: ${last})`);
  }
}

function keep(config, stream, record) {
  const fields = (config.fields || {})[stream];
  if (!fields) return record;
  const out = {};
  for (const key of Object.keys(record)) if (key === "id" || fields.includes(key)) out[key] = record[key];
  return out;
}

async function feedEnd(client) {
  let cursor = null;
  for (;;) {
    const page = await client.call("GET", "/v1/events", { query: { limit: 200, cursor } });
    cursor = page.next_cursor;
    if (!page.has_more) return cursor;
  }
}

async function sync(client, config, state) {
  if (!state || !state.feed) {
    state = { feed: await feedEnd(client), pending: [...STREAMS], cursor: null };
    emit({ type: "STATE", value: state });
  }
  while (state.pending && state.pending.length) {
    const stream = state.pending[0];
    const page = await client.call("GET", `/v1/${stream}`, { query: { limit: config.page_size || 100, cursor: state.cursor } });
    for (const record of page.data) emit({ type: "RECORD", stream, record: keep(config, stream, record) });
    state = page.next_cursor
      ? { ...state, cursor: page.next_cursor }
      : { ...state, pending: state.pending.slice(1), cursor: null };
    emit({ type: "STATE", value: state });
  }
  let cursor = state.feed;
  for (;;) {
    const page = await client.call("GET", "/v1/events", { query: { limit: 200, cursor } });
    for (const event of page.data) {
      const [kind, action] = String(event.type).split(".");
      const stream = EVENT_STREAMS[kind];
      if (!stream) continue;
      if (action === "deleted") emit({ type: "DELETE", stream, id: event.object_id });
      else if (event.object && typeof event.object === "object") emit({ type: "RECORD", stream, record: keep(config, stream, event.object) });
    }
    cursor = page.next_cursor;
    emit({ type: "STATE", value: { feed: cursor } });
    if (!page.has_more) return;
  }
}

async function push(client, stream) {
  const allowed = CREATE_FIELDS[stream];
  if (!allowed) throw new PlatformError(`cannot push to ${stream}`);
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const message = JSON.parse(line);
    if (message.type !== "RECORD") continue;
    const body = {};
    for (const key of allowed) if (key in message.record) body[key] = message.record[key];
    // one key per logical write, the same on every retry of it
    await client.call("POST", `/v1/${stream}`, { json: body, headers: { "Idempotency-Key": crypto.randomUUID() } });
  }
}

function verifier(secret) {
  const key = Buffer.from(String(secret).replace(/^whsec_/, ""), "base64");
  return (headers, body) => {
    const id = headers["webhook-id"];
    const timestamp = headers["webhook-timestamp"];
    const signatures = headers["webhook-signature"];
    if (!id || !timestamp || !signatures || !/^\d+$/.test(timestamp)) return false;
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_S) return false;
    const expected = crypto.createHmac("sha256", key).update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body])).digest();
    return signatures.split(" ").some((entry) => {
      const [version, value] = entry.split(",", 2);
      if (version !== "v1" || !value) return false;
      const given = Buffer.from(value, "base64");
      return given.length === expected.length && crypto.timingSafeEqual(given, expected);
    });
  };
}

function serve(config, port, path) {
  const verify = config.webhook_secret ? verifier(config.webhook_secret) : () => false;
  const seen = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size <= 1 << 20) chunks.push(chunk);
    });
    req.on("end", () => {
      const answer = (status) => {
        res.writeHead(status, { "Content-Type": "text/plain" });
        res.end();
      };
      if (req.method !== "POST" || new URL(req.url, "http://x").pathname !== path) return answer(404);
      if (size > 1 << 20) return answer(413);
      const body = Buffer.concat(chunks);
      if (!verify(req.headers, body)) return answer(401);
      const id = req.headers["webhook-id"];
      if (seen.has(id)) return answer(200);
      let event;
      try {
        event = JSON.parse(body.toString("utf8"));
      } catch (err) {
        return answer(400);
      }
      if (!event || typeof event !== "object" || !event.data || typeof event.data !== "object") return answer(400);
      const data = event.data;
      if ((event.type === "contact.created" || event.type === "contact.updated") && typeof data.id === "string") {
        emit({ type: "RECORD", stream: "contacts", record: keep(config, "contacts", data) });
      } else if (event.type === "contact.deleted" && typeof data.id === "string") {
        emit({ type: "DELETE", stream: "contacts", id: data.id });
      } else {
        log("warning", "webhook of an unknown type ignored", { event_type: String(event.type).slice(0, 100) });
      }
      seen.add(id);
      answer(200);
    });
    req.on("error", () => res.destroy());
  });
  server.listen(port, "127.0.0.1");
}

async function main() {
  const opts = args(process.argv.slice(2));
  const config = JSON.parse(fs.readFileSync(opts.config, "utf8"));
  const client = new Client(config);
  switch (opts.command) {
    case "check":
      await client.accessToken(true);
      await client.call("GET", "/v1/contacts", { query: { limit: 1 } });
      return;
    case "sync":
      return sync(client, config, opts.state ? JSON.parse(fs.readFileSync(opts.state, "utf8")) : null);
    case "push":
      return push(client, opts.stream);
    case "serve":
      return serve(config, Number(opts.port), "/hooks/crm");
    default:
      throw new PlatformError(`unknown command ${opts.command}`);
  }
}

main().catch((err) => {
  // stderr lines are structured too (OBS-01): one JSON object, as pino writes them
  const failure = { level: "error", message: err instanceof PlatformError ? "failed" : "crashed", error: err.message };
  process.stderr.write(JSON.stringify({ ...failure, request: lastRequest, sync_id: SYNC_ID }) + "\n");
  process.exit(1);
});
