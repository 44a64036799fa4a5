// Troupe's @skipruntime/helpers: native reducers, external services and
// the HTTP client of Skip 0.0.15, done by Go underneath.
import { SkipError, SkipFetchError, SkipUnknownResourceError } from "@skipruntime/core";

const T = globalThis.__troupe;

export class Sum {
  constructor() {
    this.__troupeNative = "sum";
  }
}
export class Min {
  constructor() {
    this.__troupeNative = "min";
  }
}
export class Max {
  constructor() {
    this.__troupeNative = "max";
  }
}
export class Count {
  constructor() {
    this.__troupeNative = "count";
  }
}

export function defaultParamEncoder(params) {
  if (typeof params == "object" && params !== null) {
    const parts = [];
    for (const [key, value] of Object.entries(params)) {
      const v = typeof value == "object" ? JSON.stringify(value) : String(value);
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(v)}`.replace(/%20/g, "+"));
    }
    return `?${parts.join("&")}`;
  }
  return `?params=${JSON.stringify(params)}`;
}

// PolledExternalService: Go polls each subscribed resource's URL every
// interval and hands the reply to conv in the owning runtime.
export class PolledExternalService {
  constructor(resources) {
    this.resources = resources;
    this.__troupeKind = "polled";
  }
  __troupeSubscribe(resourceName, params) {
    const resource = this.resources[resourceName];
    if (!resource) throw new SkipUnknownResourceError(`Unknown resource named '${resourceName}'`);
    const url = `${resource.url}${(resource.encodeParams ?? defaultParamEncoder)(params)}`;
    return {
      url,
      interval: Number(resource.interval ?? 1000),
      headers: resource.options?.headers ?? {},
      timeout: Number(resource.options?.timeout ?? 0),
      conv: resource.conv,
    };
  }
  subscribe() {
    throw new SkipError("PolledExternalService is driven by Troupe");
  }
  unsubscribe() {}
  shutdown() {
    return Promise.resolve();
  }
}

// SkipExternalService: Go reads the other service's SSE stream.
export class SkipExternalService {
  constructor(url, control_url) {
    this.url = url;
    this.control_url = control_url;
    this.__troupeKind = "skip";
  }
  static direct(entrypoint) {
    const scheme = entrypoint.secured ? "https" : "http";
    return new SkipExternalService(
      `${scheme}://${entrypoint.host}:${entrypoint.streaming_port}`,
      `${scheme}://${entrypoint.host}:${entrypoint.control_port}`,
    );
  }
  __troupeSubscribe(resource, params) {
    return { url: this.url, control_url: this.control_url, resource };
  }
  subscribe() {
    throw new SkipError("SkipExternalService is driven by Troupe");
  }
  unsubscribe() {}
  shutdown() {
    return Promise.resolve();
  }
}

class LeaderResource {
  constructor(param) {
    if (typeof param == "string") this.collection = param;
    else throw new SkipError("Followers must specify a shared collection to mirror from leader.");
  }
  instantiate(collections) {
    if (this.collection in collections) return collections[this.collection];
    throw new SkipError(`Unknown shared collection in leader: ${this.collection}`);
  }
}

export function asLeader(service) {
  return { ...service, resources: { leader: LeaderResource } };
}

export function asFollower(service, leader) {
  return {
    ...service,
    initialData: {},
    externalServices: { ...service.externalServices, __skip_leader: SkipExternalService.direct(leader.leader) },
    createGraph(_inputs, context) {
      const mirrored = {};
      for (const collection of leader.collections) {
        mirrored[collection] = context.useExternalResource({ service: "__skip_leader", identifier: "leader", params: collection });
      }
      return mirrored;
    },
  };
}

// fetchJSON: a synchronous HTTP call in Go, wrapped in a promise.
export async function fetchJSON(url, method = "GET", options = {}) {
  const body = options.body === undefined ? null : JSON.stringify(options.body);
  const [status, text, headers, err] = T.fetch(url, method, JSON.stringify(options.headers ?? {}), body, Number(options.timeout ?? 0));
  if (err) throw new SkipFetchError(err);
  if (status < 200 || status >= 300) throw new SkipFetchError(`${status}: ${text}`);
  const h = new Map(Object.entries(JSON.parse(headers)));
  const hs = { get: (k) => h.get(String(k).toLowerCase()) ?? null, has: (k) => h.has(String(k).toLowerCase()) };
  return [text.length > 0 ? JSON.parse(text) : null, hs];
}

export class SkipServiceBroker {
  constructor(entrypoint = { host: "localhost", streaming_port: 8080, control_port: 8081 }, timeout) {
    const scheme = entrypoint.secured ? "https" : "http";
    this.entrypoint = `${scheme}://${entrypoint.host}:${entrypoint.control_port}`;
    this.timeout = timeout;
  }
  opts(body) {
    return { body, timeout: this.timeout, headers: { "Content-Type": "application/json" } };
  }
  async getAll(resource, params) {
    const [data] = await fetchJSON(`${this.entrypoint}/v1/snapshot/${resource}`, "POST", this.opts(params));
    return data ?? [];
  }
  async getArray(resource, params, key) {
    const [data] = await fetchJSON(`${this.entrypoint}/v1/snapshot/${resource}/lookup`, "POST", this.opts({ key, params }));
    return data ?? [];
  }
  async getUnique(resource, params, key) {
    const values = await this.getArray(resource, params, key);
    if (values.length !== 1) throw new SkipError(`No unique value for key ${JSON.stringify(key)}`);
    return values[0];
  }
  async update(collection, entries) {
    await fetchJSON(`${this.entrypoint}/v1/inputs/${collection}`, "PATCH", this.opts(entries));
  }
  async deleteKey(collection, key) {
    return this.update(collection, [[key, []]]);
  }
  async getStreamUUID(resource, params = {}) {
    const [status, text, , err] = T.fetch(`${this.entrypoint}/v1/streams/${resource}`, "POST", JSON.stringify({ "Content-Type": "application/json" }), JSON.stringify(params), Number(this.timeout ?? 0));
    if (err) throw new SkipFetchError(err);
    if (status < 200 || status >= 300) throw new SkipFetchError(`${status}: ${text}`);
    return text;
  }
  async deleteUUID(uuid) {
    await fetchJSON(`${this.entrypoint}/v1/streams/${uuid}`, "DELETE", { timeout: this.timeout });
  }
}
