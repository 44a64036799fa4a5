// Globals that Node and browsers have and goja lacks, in the small form
// Skip services use. Run in every runtime before the service's module.
(function () {
  const T = globalThis.__troupe;

  class URLSearchParams {
    constructor(init) {
      this._list = [];
      if (typeof init === "string") {
        const s = init.startsWith("?") ? init.slice(1) : init;
        for (const part of s.split("&")) {
          if (part.length === 0) continue;
          const i = part.indexOf("=");
          const dec = (x) => decodeURIComponent(x.replace(/\+/g, " "));
          this._list.push(i < 0 ? [dec(part), ""] : [dec(part.slice(0, i)), dec(part.slice(i + 1))]);
        }
      } else if (Array.isArray(init)) {
        for (const [k, v] of init) this._list.push([String(k), String(v)]);
      } else if (init && typeof init === "object") {
        for (const k of Object.keys(init)) this._list.push([k, String(init[k])]);
      }
    }
    append(k, v) { this._list.push([String(k), String(v)]); }
    set(k, v) { this.delete(k); this.append(k, v); }
    delete(k) { this._list = this._list.filter(([x]) => x !== k); }
    get(k) { const e = this._list.find(([x]) => x === k); return e ? e[1] : null; }
    getAll(k) { return this._list.filter(([x]) => x === k).map(([, v]) => v); }
    has(k) { return this._list.some(([x]) => x === k); }
    entries() { return this._list[Symbol.iterator](); }
    keys() { return this._list.map(([k]) => k)[Symbol.iterator](); }
    values() { return this._list.map(([, v]) => v)[Symbol.iterator](); }
    forEach(f) { for (const [k, v] of this._list) f(v, k, this); }
    [Symbol.iterator]() { return this.entries(); }
    toString() {
      const enc = (x) => encodeURIComponent(x).replace(/%20/g, "+");
      return this._list.map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&");
    }
  }

  class URL {
    constructor(url, base) {
      const p = T.parseURL(String(url), base === undefined ? "" : String(base));
      if (typeof p === "string") throw new TypeError(`Invalid URL: ${p}`);
      Object.assign(this, p);
      this.searchParams = new URLSearchParams(this.search);
    }
    get origin() { return `${this.protocol}//${this.host}`; }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }

  if (typeof globalThis.URL === "undefined") globalThis.URL = URL;
  if (typeof globalThis.URLSearchParams === "undefined") globalThis.URLSearchParams = URLSearchParams;
  if (typeof globalThis.structuredClone === "undefined") {
    globalThis.structuredClone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
  }
  if (typeof globalThis.queueMicrotask === "undefined") {
    globalThis.queueMicrotask = (f) => { Promise.resolve().then(f); };
  }
})();
