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

// getArray reads a key of a collection. Numbers and strings, the keys of
// almost every join, go to Go as they are, which writes their JSON itself:
// a mapper joining a whole group makes one such read per member.
function getArray(h, key) {
  const t = typeof key;
  const a = t === "number" || t === "string" ? T.getArrayOf(h, key) : T.getArray(h, json(key, "key"));
  // An empty one is the frozen hooks.empty already.
  return a.length === 0 ? a : Object.freeze(a);
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
    return getArray(this.h, key);
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
    return getArray(this.h, key);
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

// jsonExtract: Skip's JSON pattern language (the one of its skjson
// library), ported whole: variables with types (x<int>, y<[num]|null>),
// paths (a.b[0], x[]), optional fields (?f), quoted names ("a.b"), and one
// field whose name holds % matching any path of the value like SQL's LIKE
// ([] there matching an index). Each match is a list of {name: value}
// objects, in Skip's order; names of [] and {} placeholders are dropped.
let patternSym = 0;
const keywordStops = new Set(" \t\n!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
const fieldNameStops = new Set(':,"<>?]{}');

class PatternParser {
  constructor(text, whole) {
    this.s = text;
    this.whole = whole ?? text;
    this.i = 0;
    this.back = [];
  }
  error(msg) {
    throw new SkipError(`jsonExtract: ${msg} in pattern ${JSON.stringify(this.whole)}`);
  }
  // next skips blanks, as Skip's lexer.
  next() {
    if (this.back.length > 0) return this.back.pop();
    while (this.i < this.s.length) {
      const c = this.s[this.i++];
      if (c !== " " && c !== "\t" && c !== "\n") return c;
    }
    return null;
  }
  unread(c) {
    this.back.push(c);
  }
  expect(c) {
    if (this.next() !== c) this.error(`expected ${c}`);
  }
  toplevel() {
    const c = this.next();
    if (c === null) this.error("expected a pattern");
    this.unread(c);
    const res = c === "%" ? { t: "obj", special: this.field()[1], rest: [] } : this.pattern();
    const d = this.next();
    if (d !== null) this.error(`unexpected character ${d}`);
    return res;
  }
  pattern() {
    const c = this.next();
    if (c === null) this.error("expected a pattern");
    if (c === "[") {
      const d = this.next();
      if (d === null) this.error("expected ]");
      if (d === "]") return { t: "arr", idx: null, pat: { t: "var", ty: null, name: "^" + patternSym++ } };
      this.unread(d);
      const res = { t: "arr", idx: null, pat: this.pattern() };
      this.expect("]");
      return res;
    }
    if (c === "{") return this.patFields(this.fields());
    this.unread(c);
    const name = this.fieldName();
    if (!validVarName(name)) this.error(`unexpected variable name ${JSON.stringify(name)}`);
    const d = this.next();
    if (d === "<") {
      const ty = this.type();
      this.expect(">");
      return { t: "var", ty, name };
    }
    if (d !== null && d !== "]" && d !== "}" && d !== ",") this.error(`unexpected character ${d} after variable ${name}`);
    if (d !== null) this.unread(d);
    return { t: "var", ty: null, name };
  }
  fields() {
    const fields = new Map();
    for (;;) {
      const c = this.next();
      if (c === null) this.error("expected a field");
      if (c === "}") return [...fields.values()];
      this.unread(c);
      const [name, f] = this.field();
      fields.set(name, f);
      const d = this.next();
      if (d === "}") return [...fields.values()];
      if (d !== ",") this.error("expected }");
    }
  }
  field() {
    let c = this.next();
    if (c === null) this.error("expected a field name");
    const optional = c === "?";
    if (optional) c = this.next();
    if (c === null) this.error("expected a field name");
    let name;
    if (c === '"') {
      name = '"' + this.quoted();
    } else {
      this.unread(c);
      name = this.fieldName();
    }
    if (name[0] === "[") this.error(`invalid field name ${name}`);
    const d = this.next();
    if (d === ":") return [name, { optional, name, pat: this.pattern() }];
    if (d !== "," && d !== "<" && d !== "}") this.error("expected :");
    if (!validVarName(name)) this.error(`the field ${name} cannot name a variable: add ': name'`);
    let ty = null;
    if (d === "<") {
      ty = this.type();
      this.expect(">");
    } else {
      this.unread(d);
    }
    return [name, { optional, name, pat: { t: "var", ty, name } }];
  }
  // quoted reads up to the closing quote, blanks included.
  quoted() {
    let out = "";
    while (this.i < this.s.length) {
      const c = this.s[this.i++];
      if (c === '"') return out;
      out += c;
      if (c === "\\") {
        const e = this.next();
        if (e === null) this.error("unterminated string");
        out += e;
      }
    }
    return out;
  }
  fieldName() {
    let out = "";
    for (;;) {
      const c = this.next();
      if (c === null) return out;
      if (c === "[") {
        out += c;
        for (;;) {
          const d = this.next();
          if (d === null) this.error("expected ]");
          if (d === "]") break;
          if (d !== "%" && (d < "0" || d > "9")) this.error(`unexpected index ${d}`);
          out += d;
        }
        out += "]";
        continue;
      }
      if (fieldNameStops.has(c)) {
        this.unread(c);
        return out;
      }
      out += c;
    }
  }
  keyword() {
    let out = "";
    for (;;) {
      const c = this.next();
      if (c === null) return out;
      if (keywordStops.has(c)) {
        this.unread(c);
        return out;
      }
      out += c;
    }
  }
  // path reads a field name as a path: a.b[0][].
  path() {
    const out = [];
    for (;;) {
      const c = this.next();
      if (c === null) return out;
      if (c === "[") {
        let digits = "";
        for (;;) {
          const d = this.next();
          if (d === null) this.error("unexpected end of path");
          if (d === "]") break;
          if (d < "0" || d > "9") this.error(`unexpected character ${d} in an index`);
          digits += d;
        }
        out.push(digits === "" ? { all: true } : { i: Number(digits) });
        continue;
      }
      let name;
      if (c === ".") {
        const d = this.next();
        if (d === null) this.error("expected a field name after .");
        if (d === '"') name = this.quoted();
        else {
          this.unread(d);
          name = this.keyword();
        }
      } else {
        this.unread(c);
        name = this.keyword();
      }
      // Skip's lexer loops forever here; say what is wrong instead.
      if (name === "") this.error(`unexpected character ${this.next()} in a path (quote the field name)`);
      out.push({ f: name });
    }
  }
  type() {
    const out = [];
    for (;;) {
      out.push(...this.stype());
      const c = this.next();
      if (c === "|") continue;
      if (c !== null) this.unread(c);
      return out;
    }
  }
  stype() {
    const c = this.next();
    if (c === null) this.error("expected a type");
    if (c === "[") {
      const d = this.next();
      if (d === null) this.error("expected ]");
      if (d === "]") return [{ k: "array", elem: [] }];
      this.unread(d);
      const res = [{ k: "array", elem: this.type() }];
      this.expect("]");
      return res;
    }
    if (c === "{") {
      const fields = [];
      for (;;) {
        let d = this.next();
        if (d === null) this.error("expected a field");
        if (d === "}") return [{ k: "object", fields }];
        const optional = d === "?";
        if (optional) d = this.next();
        if (d === null) this.error("expected a field name");
        let name;
        if (d === '"') name = this.quoted();
        else {
          this.unread(d);
          name = this.keyword();
        }
        this.expect(":");
        fields.push({ name, optional, type: this.type() });
        d = this.next();
        if (d === "}") return [{ k: "object", fields }];
        if (d !== ",") this.error("expected }");
      }
    }
    this.unread(c);
    const kw = this.keyword();
    switch (kw) {
      case "null":
      case "bool":
      case "int":
      case "float":
      case "string":
        return [{ k: kw }];
      case "num":
        return [{ k: "int" }, { k: "float" }];
    }
    return this.error(`unknown type '${kw}'`);
  }
  // patFields splits an object pattern's fields into the one whose name
  // holds % and the others, each a path made into nested patterns.
  patFields(fields) {
    let special = null;
    const rest = [];
    for (const f of fields) {
      if (f.name[0] === '"') {
        rest.push({ ...f, name: f.name.slice(1) });
      } else if (f.name.includes("%")) {
        if (special) this.error("cannot have 2 fields with %");
        special = f;
      } else {
        const path = new PatternParser(f.name, this.whole).path();
        if (path.length === 0 || !("f" in path[0])) this.error(`invalid field name ${JSON.stringify(f.name)}`);
        let pat = f.pat;
        for (let i = path.length - 1; i > 0; i--) {
          const e = path[i];
          if ("f" in e) pat = { t: "obj", special: null, rest: [{ optional: f.optional, name: e.f, pat }] };
          else pat = { t: "arr", idx: e.all ? null : e.i, pat };
        }
        rest.push({ optional: f.optional, name: path[0].f, pat });
      }
    }
    rest.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (let i = 1; i < rest.length; i++) {
      if (rest[i - 1].name === rest[i].name) this.error(`duplicate name ${rest[i].name}`);
    }
    return { t: "obj", special, rest };
  }
}

function validVarName(s) {
  return /^([_a-zA-Z][_a-zA-Z0-9]*)?$/.test(s);
}

function kindOf(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  switch (typeof v) {
    case "boolean":
      return "bool";
    case "number":
      return Number.isInteger(v) ? "int" : "float";
    case "string":
      return "string";
  }
  return "object";
}

// typeOk: every kind in the value is one the type allows, objects have
// every field the type requires and none it does not know.
function typeOk(ty, v) {
  const k = kindOf(v);
  return ty.some((st) => {
    if (st.k !== k) return false;
    if (k === "array") return v.every((e) => typeOk(st.elem, e));
    if (k === "object") {
      for (const key of Object.keys(v)) {
        const f = st.fields.find((f) => f.name === key);
        if (!f || !typeOk(f.type, v[key])) return false;
      }
      return st.fields.every((f) => f.optional || Object.prototype.hasOwnProperty.call(v, f.name));
    }
    return true;
  });
}

function allNull(p, acc) {
  switch (p.t) {
    case "var":
      return [[p.name, null], ...acc];
    case "arr":
      return allNull(p.pat, []);
  }
  if (p.special) acc = allNull(p.special.pat, acc);
  for (const f of p.rest) acc = allNull(f.pat, acc);
  return acc;
}

// everyPath lists each part of a value with its path, depth first, object
// fields in name order.
function everyPath(path, v, out) {
  out.push([path, v]);
  if (Array.isArray(v)) v.forEach((e, i) => everyPath([...path, { i }], e, out));
  else if (v !== null && typeof v === "object") {
    for (const k of Object.keys(v).sort()) everyPath([...path, { f: k }], v[k], out);
  }
  return out;
}

// coveredBy: the static fields of p reach path.
function coveredBy(p, path) {
  if (path.length === 0 || p.t === "var") return true;
  const h = path[0];
  if ("f" in h && p.t === "obj") {
    const f = p.rest.find((f) => f.name === h.f);
    return f ? coveredBy(f.pat, path.slice(1)) : false;
  }
  if ("i" in h && p.t === "arr") return coveredBy(p.pat, path.slice(1));
  return false;
}

function pathText(path) {
  return path.map((e) => ("f" in e ? "." + e.f : `[${e.i}]`)).join("");
}

// like matches text against a pattern where % is any run of characters
// and [] any index, as Skip's pathMatch.
function like(pattern, text) {
  const subs = [];
  const arrayIdx = new Set();
  let buf = "";
  let last = " ";
  for (const c of pattern) {
    if (c === "%" || (last === "[" && c === "]")) {
      if (buf.length !== 0) {
        subs.push(buf);
        buf = "";
        if (c === "]") {
          arrayIdx.add(subs.length);
          buf = "]";
        }
      }
      last = c;
      continue;
    }
    last = c;
    buf += c;
  }
  if (buf.length !== 0) subs.push(buf);
  const isSub = (sub, i) => text.startsWith(sub, i);
  if (!pattern.startsWith("%")) {
    if (subs.length === 0) return text.length === 0;
    if (!isSub(subs[0], 0)) return false;
  }
  if (!pattern.endsWith("%")) {
    if (subs.length === 0) return text.length === 0;
    const ls = subs[subs.length - 1];
    if (!isSub(ls, Math.max(0, text.length - ls.length))) return false;
  }
  let pi = 0;
  let i = 0;
  for (;;) {
    if (pi === subs.length) return true;
    if (i === text.length) return false;
    if (isSub(subs[pi], i)) {
      i += subs[pi].length;
      pi++;
    } else {
      if (pi === 0 && !pattern.startsWith("%")) return false;
      if (arrayIdx.has(pi) && (text[i] < "0" || text[i] > "9")) return false;
      i++;
    }
  }
}

function patternMatch(p, v) {
  switch (p.t) {
    case "var":
      return p.ty && !typeOk(p.ty, v) ? [] : [[[p.name, v]]];
    case "arr":
      if (!Array.isArray(v)) return [];
      if (p.idx === null) {
        if (v.length === 0 && p.pat.t === "var") return patternMatch(p.pat, null);
        return v.flatMap((e) => patternMatch(p.pat, e));
      }
      return p.idx < v.length ? patternMatch(p.pat, v[p.idx]) : [];
  }
  if (!p.special && p.rest.length === 0) {
    return kindOf(v) === "object" && Object.keys(v).length === 0 ? [[["^" + patternSym++, null]]] : [];
  }
  if (!p.special) return matchFields([], v, p.rest);
  const statics = { t: "obj", special: null, rest: p.rest };
  let name = p.special.name;
  if (!name.startsWith(".") && !name.startsWith("%")) name = "." + name;
  return everyPath([], v, [])
    .filter(([path]) => !coveredBy(statics, path) && like(name, pathText(path)))
    .flatMap(([, x]) => matchFields([patternMatch(p.special.pat, x)], v, p.rest));
}

// matchFields matches an object's static fields (a merge of two sorted
// name lists); arrays holds the binding choices so far, latest first.
function matchFields(arrays, v, fields) {
  arrays = [...arrays];
  if (kindOf(v) === "object") {
    const cols = Object.keys(v).sort();
    let i = 0;
    let j = 0;
    while (i < fields.length || j < cols.length) {
      if (i < fields.length && (j >= cols.length || fields[i].name < cols[j])) {
        if (!fields[i].optional) return [];
        arrays.unshift([allNull(fields[i].pat, [])]);
        i++;
      } else if (i >= fields.length || fields[i].name > cols[j]) {
        j++;
      } else {
        let sub = patternMatch(fields[i].pat, v[cols[j]]);
        if (sub.length === 0 && fields[i].optional) sub = [allNull(fields[i].pat, [])];
        arrays.unshift(sub);
        i++;
        j++;
      }
    }
  }
  return combine(arrays);
}

function combine(arrays) {
  if (arrays.length === 0) return [];
  if (arrays.length === 1) return arrays[0];
  const out = [];
  for (const tail of combine(arrays.slice(1))) {
    for (const b of arrays[0]) out.push([...b, ...tail]);
  }
  return out;
}

function extract(value, pattern) {
  if (typeof pattern !== "string") throw new SkipError(`jsonExtract: the pattern must be a string, got ${JSON.stringify(pattern)}`);
  const p = new PatternParser(pattern).toplevel();
  const out = [];
  for (const m of patternMatch(p, value)) {
    const kept = m.filter(([name]) => !name.startsWith("^"));
    if (kept.length > 0) out.push(kept.map(([name, v]) => ({ [name]: v })));
  }
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

// pushPair appends the JSON texts of a mapper's [key, value] pair.
function pushPair(m, out, kv) {
  if (!Array.isArray(kv) || kv.length !== 2) throw new SkipError(`${m.constructor.name}.mapEntry must yield [key, value] pairs, got ${JSON.stringify(kv)}`);
  out.push(pairText(m, kv[0], "key"), pairText(m, kv[1], "value"));
}

// pairText is JSON.stringify(v), without the serializer for a finite
// number, whose JSON is its string form.
function pairText(m, v, what) {
  if (typeof v === "number" && isFinite(v)) return "" + v;
  return json(v, `${m.constructor.name}.mapEntry ${what}`);
}

// Hooks Go calls. Each takes and returns JSON text, so that one entry
// crosses once in each direction.
const hooks = {
  // value parses one value for getArray, which Go caches.
  value(text) {
    return parse(text);
  },
  // map returns the pairs as JSON texts joined by newlines, which
  // JSON.stringify never leaves inside a text: cheaper to split in Go
  // than a JSON array to parse.
  // key and values come as JSON texts, or (raw true) as plain values
  // Go built itself: strings and numbers need no parsing.
  map(m, key, values, raw) {
    // Go builds a fresh array for every call: the raw one holds strings,
    // numbers and values of the cache (hooks.value), frozen already.
    const res = m.mapEntry(raw ? key : parse(key), new ValuesImpl(raw ? values : parseValues(values)), hooks.context);
    const out = [];
    // An array (what mappers mostly return) is walked by index: goja's
    // iterator protocol allocates a result object per element.
    if (Array.isArray(res)) {
      for (let i = 0; i < res.length; i++) pushPair(m, out, res[i]);
    } else {
      for (const kv of res) pushPair(m, out, kv);
    }
    // One join: concatenating as it goes copies the text once per pair.
    return out.join("\n");
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
  empty: Object.freeze([]),
};
hooks.context = new ContextImpl();
T.hooks(hooks);
