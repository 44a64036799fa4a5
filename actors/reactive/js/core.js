// Troupe's @skipruntime/core: the API surface of Skip 0.0.15 on top of
// Troupe's engine (globalThis.__troupe, installed by Go in every runtime).
// Values cross between Go and JavaScript as JSON text, once per entry.
const T = globalThis.__troupe;

export class SkipError extends Error {}
export class SkipUnknownCollectionError extends SkipError {}
export class SkipUnknownResourceError extends SkipError {}
export class SkipRESTError extends SkipError {}
export class SkipFetchError extends SkipError {}
export class SkipClassNameError extends SkipError {}
export class SkipNonUniqueValueError extends SkipError {}
export class SkipResourceInstanceInUseError extends SkipError {}
for (const C of [SkipError, SkipUnknownCollectionError, SkipUnknownResourceError, SkipRESTError,
  SkipFetchError, SkipClassNameError, SkipNonUniqueValueError, SkipResourceInstanceInUseError]) {
  Object.defineProperty(C.prototype, "name", { value: C.name, writable: true, configurable: true });
}

export function deepFreeze(v) {
  if (v === null || typeof v !== "object" || Object.isFrozen(v)) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) deepFreeze(v[i]);
  } else {
    for (const k of Object.keys(v)) deepFreeze(v[k]);
  }
  return Object.freeze(v);
}

function parse(text) {
  return deepFreeze(JSON.parse(text));
}

// parseValues reads a key's values: each value is frozen, the array that
// holds them is not, as in Skip, whose toArray returns an array its own
// examples sort in place.
function parseValues(text) {
  const vs = JSON.parse(text);
  for (let i = 0; i < vs.length; i++) deepFreeze(vs[i]);
  return vs;
}

function json(v, what) {
  const s = JSON.stringify(v);
  if (s === undefined) throw new SkipError(`${what} is not JSON: ${String(v)}`);
  return s;
}

// Managed is the marker of objects user code may hold in mapper params.
export class SkManaged {}

export class InputDefinition {
  constructor(initial) {
    this.initial = initial ?? [];
  }
}

function checkClass(what, ctor) {
  if (typeof ctor !== "function") throw new SkipClassNameError(`${what} must be a class`);
}

function instantiateUserObject(what, ctor, params) {
  checkClass(what, ctor);
  const obj = new ctor(...params.map(checkParam));
  Object.freeze(obj);
  if (!obj.constructor.name) {
    throw new SkipClassNameError(`${what} classes must be defined at top-level.`);
  }
  return obj;
}

function checkParam(p) {
  if (p instanceof SkManaged) return p;
  if (p === null || typeof p !== "object") return p;
  return deepFreeze(p);
}

function uniqueOf(values, d, none) {
  switch (values.length) {
    case 1:
      return values[0];
    case 0:
      if (none && d?.ifNone !== undefined) return deepFreeze(d.ifNone);
      if (!none && d?.ifMany !== undefined) return deepFreeze(d.ifMany);
      throw new SkipNonUniqueValueError();
    default:
      if (d?.ifMany !== undefined) return deepFreeze(d.ifMany);
      throw new SkipNonUniqueValueError();
  }
}

export class LazyCollectionImpl extends SkManaged {
  constructor(h) {
    super();
    this.h = h;
    Object.freeze(this);
  }
  getArray(key) {
    return parse(T.getArray(this.h, json(key, "key")));
  }
  getUnique(key, d) {
    return uniqueOf(this.getArray(key), d, true);
  }
}

export class EagerCollectionImpl extends SkManaged {
  constructor(h) {
    super();
    this.h = h;
    this.size = () => T.size(this.h);
    Object.freeze(this);
  }
  getArray(key) {
    return parse(T.getArray(this.h, json(key, "key")));
  }
  getUnique(key, d) {
    return uniqueOf(this.getArray(key), d, true);
  }
  slice(start, end) {
    return this.slices([start, end]);
  }
  slices(...ranges) {
    return new EagerCollectionImpl(T.slice(this.h, json(ranges, "ranges")));
  }
  take(limit) {
    return new EagerCollectionImpl(T.take(this.h, Number(limit)));
  }
  map(mapper, ...params) {
    const m = instantiateUserObject("Mapper", mapper, params);
    return new EagerCollectionImpl(T.map(this.h, m, m.constructor.name));
  }
  mapReduce(mapper, ...mapperParams) {
    return (reducer, ...reducerParams) => this.map(mapper, ...mapperParams).reduce(reducer, ...reducerParams);
  }
  reduce(reducer, ...params) {
    const r = instantiateUserObject("Reducer", reducer, params);
    return new EagerCollectionImpl(T.reduce(this.h, r, r.__troupeNative ?? ""));
  }
  merge(...others) {
    return new EagerCollectionImpl(T.merge(this.h, others.map((o) => o.h)));
  }
}

class ValuesImpl {
  constructor(arr) {
    this.arr = arr;
  }
  getUnique(d) {
    return uniqueOf(this.arr, d, false);
  }
  // toArray returns the array itself, as Skip's does: user code may sort
  // it in place, and iterating afterwards sees that order, as in Skip.
  toArray() {
    return this.arr;
  }
  [Symbol.iterator]() {
    return this.arr[Symbol.iterator]();
  }
}

// jsonExtract: Skip's JSON pattern language, in the subset its examples
// use: a pattern is a JSON path whose leaves bind values.
function extract(value, pattern) {
  const p = pattern.trim();
  const out = [];
  const walk = (v, path) => {
    if (path.length === 0) {
      out.push(v);
      return;
    }
    const [head, ...rest] = path;
    if (head === "*") {
      if (Array.isArray(v)) v.forEach((x) => walk(x, rest));
      else if (v && typeof v === "object") Object.values(v).forEach((x) => walk(x, rest));
      return;
    }
    if (v && typeof v === "object" && head in v) walk(v[head], rest);
  };
  const path = p.replace(/^\$\.?/, "").split(/[.[\]]+/).filter((s) => s.length > 0).map((s) => s.replace(/^["']|["']$/g, ""));
  walk(value, path);
  return deepFreeze(out);
}

export class ContextImpl extends SkManaged {
  createLazyCollection(compute, ...params) {
    const c = instantiateUserObject("LazyCompute", compute, params);
    return new LazyCollectionImpl(T.lazy(c, c.constructor.name));
  }
  useExternalResource(resource) {
    return new EagerCollectionImpl(T.external(resource.service, resource.identifier, json(resource.params ?? {}, "params")));
  }
  jsonExtract(value, pattern) {
    return extract(value, pattern);
  }
}

// Hooks Go calls. Each takes and returns JSON text, so that one entry
// crosses once in each direction.
const hooks = {
  // map returns the pairs as JSON texts joined by newlines, which
  // JSON.stringify never leaves inside a text: cheaper to split in Go
  // than a JSON array to parse.
  // key and values come as JSON texts, or (raw true) as plain values
  // Go built itself: strings and numbers need no parsing.
  map(m, key, values, raw) {
    let out = "";
    // Go builds a fresh array for every call: the raw one holds only
    // strings and numbers, which need no freezing.
    const res = m.mapEntry(raw ? key : parse(key), new ValuesImpl(raw ? values : parseValues(values)), hooks.context);
    for (const kv of res) {
      if (!Array.isArray(kv) || kv.length !== 2) throw new SkipError(`${m.constructor.name}.mapEntry must yield [key, value] pairs, got ${JSON.stringify(kv)}`);
      const k = json(kv[0], `${m.constructor.name}.mapEntry key`);
      const v = json(kv[1], `${m.constructor.name}.mapEntry value`);
      out = out.length === 0 ? k + "\n" + v : out + "\n" + k + "\n" + v;
    }
    return out;
  },
  compute(c, h, key) {
    const res = c.compute(new LazyCollectionImpl(h), parse(key), hooks.context);
    return json(Array.from(res), `${c.constructor.name}.compute result`);
  },
  initial(r) {
    return r.initial === null || r.initial === undefined ? null : json(r.initial, "initial");
  },
  add(r, acc, v) {
    return json(r.add(acc === null ? null : parse(acc), parse(v)), `${r.constructor.name}.add result`);
  },
  remove(r, acc, v) {
    const res = r.remove(parse(acc), parse(v));
    return res === null || res === undefined ? null : json(res, `${r.constructor.name}.remove result`);
  },
  createGraph(service, inputs) {
    const colls = {};
    for (const [name, h] of Object.entries(inputs)) colls[name] = new EagerCollectionImpl(h);
    const out = service.createGraph(colls, hooks.context);
    const hs = {};
    for (const [name, c] of Object.entries(out ?? {})) {
      if (!(c instanceof EagerCollectionImpl)) throw new SkipError(`createGraph: ${name} is not an EagerCollection`);
      hs[name] = c.h;
    }
    return hs;
  },
  instantiate(service, resource, params, collections) {
    const ctor = service.resources?.[resource];
    if (typeof ctor !== "function") throw new SkipUnknownResourceError(`Unknown resource ${resource}`);
    const colls = {};
    for (const [name, h] of Object.entries(collections)) colls[name] = new EagerCollectionImpl(h);
    const r = new ctor(parse(params));
    const out = r.instantiate(colls, hooks.context);
    if (!(out instanceof EagerCollectionImpl)) throw new SkipError(`${resource}.instantiate must return an EagerCollection`);
    return out.h;
  },
  inputs(service) {
    const names = {};
    for (const [name, entries] of Object.entries(service.initialData ?? {})) names[name] = json(entries ?? [], `initialData.${name}`);
    for (const [name, def] of Object.entries(service.inputs ?? {})) names[name] = json(def?.initial ?? [], `inputs.${name}`);
    return names;
  },
  resources(service) {
    return Object.keys(service.resources ?? {});
  },
  externalService(service, name) {
    return service.externalServices?.[name] ?? null;
  },
  subscribeCustom(svc, instance, resource, params, h) {
    const callbacks = {
      update: (updates, isInit) => {
        T.externalUpdate(h, json(updates, "external update"), !!isInit);
        return Promise.resolve();
      },
      error: (e) => console.error(`external resource ${resource}: ${e?.stack ?? e}`),
    };
    const p = svc.subscribe(instance, resource, parse(params), callbacks);
    if (p && typeof p.then === "function") p.then(undefined, (e) => console.error(`external resource ${resource}: ${e?.stack ?? e}`));
  },
  subscribe(svc, identifier, params) {
    return svc.__troupeSubscribe(identifier, parse(params));
  },
  call(f, arg) {
    return json(f(parse(arg)), "result");
  },
  context: null,
};
hooks.context = new ContextImpl();
T.hooks(hooks);
