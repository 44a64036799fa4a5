import type { Context, EagerCollection, Json, LazyCollection, LazyCompute, Mapper, Reducer, Resource, SkipService, Values } from "@skipruntime/core";
import { Count, Max, Min, Sum, PolledExternalService } from "@skipruntime/helpers";
import { runService } from "@skipruntime/server";

type Inputs = { nums: EagerCollection<number, number>; other: EagerCollection<number, number> };

class Identity implements Mapper<number, number, number, number> {
  mapEntry(key: number, values: Values<number>): Iterable<[number, number]> {
    return values.toArray().map((v) => [key, v] as [number, number]);
  }
}

class Parity implements Mapper<number, number, string, number> {
  mapEntry(key: number, values: Values<number>): Iterable<[string, number]> {
    return values.toArray().map((v) => [key % 2 === 0 ? "even" : "odd", v] as [string, number]);
  }
}

class AddParam implements Mapper<number, number, number, number> {
  constructor(private readonly p: { n: number }) {}
  *mapEntry(key: number, values: Values<number>): Iterable<[number, number]> {
    for (const v of values) yield [key, v + this.p.n];
  }
}

class SizeOf implements Mapper<number, number, number, number> {
  constructor(private readonly other: EagerCollection<number, number>) {}
  mapEntry(key: number, _values: Values<number>): Iterable<[number, number]> {
    return [[key, this.other.size()]];
  }
}

class JoinOther implements Mapper<number, number, number, number> {
  constructor(private readonly other: EagerCollection<number, number>) {}
  mapEntry(key: number, values: Values<number>): Iterable<[number, number]> {
    const o = this.other.getUnique(key, { ifNone: 0 });
    return [[key, values.getUnique() * o]];
  }
}

class Plus implements LazyCompute<number, number> {
  constructor(private readonly nums: EagerCollection<number, number>) {}
  compute(self: LazyCollection<number, number>, key: number): Iterable<number> {
    const here = this.nums.getArray(key);
    const below = key > 0 ? self.getUnique(key - 1, { ifNone: 0 }) : 0;
    return [below + (here[0] ?? 0)];
  }
}

class ViaLazy implements Mapper<number, number, number, number> {
  constructor(private readonly lazy: LazyCollection<number, number>) {}
  mapEntry(key: number, _values: Values<number>): Iterable<[number, number]> {
    return [[key, this.lazy.getUnique(key)]];
  }
}

class Product implements Reducer<number, number> {
  initial = 1;
  add(acc: number | null, v: number): number {
    return (acc ?? 1) * v;
  }
  remove(_acc: number, _v: number): number | null {
    return null;
  }
}

class Res implements Resource<Inputs> {
  constructor(private readonly params: Json) {}
  instantiate(cs: Inputs, context: Context): EagerCollection<Json, Json> {
    const p = this.params as { op: string; n?: number };
    const nums = cs.nums;
    switch (p.op) {
      case "map": return nums.map(Identity);
      case "param": return nums.map(AddParam, { n: p.n ?? 0 });
      case "slice": return nums.slice(2, 4);
      case "slices": return nums.slices([1, 1], [3, 5]);
      case "take": return nums.take(p.n ?? 2);
      case "sum": return nums.mapReduce(Parity)(Sum);
      case "count": return nums.mapReduce(Parity)(Count);
      case "min": return nums.mapReduce(Parity)(Min);
      case "max": return nums.mapReduce(Parity)(Max);
      case "product": return nums.mapReduce(Parity)(Product);
      case "reduce": return nums.reduce(Count);
      case "merge": return nums.merge(cs.other);
      case "size": return nums.map(SizeOf, cs.other);
      case "join": return nums.map(JoinOther, cs.other);
      case "lazy": return nums.map(ViaLazy, context.createLazyCollection(Plus, nums));
      case "external": return context.useExternalResource({ service: "web", identifier: "items", params: { n: p.n ?? 0 } });
      default: throw new Error(`unknown op ${p.op}`);
    }
  }
}

class Extracted implements Resource<Inputs> {
  instantiate(_cs: Inputs, context: Context): EagerCollection<Json, Json> {
    throw new Error(JSON.stringify(context.jsonExtract({ a: { b: [1, 2] } }, "{a.b: x}")));
  }
}

const service: SkipService<Inputs, Inputs> = {
  initialData: { nums: [[1, [10]], [2, [20]], [3, [30]], [4, [40]], [5, [50]]], other: [[2, [3]], [9, [1]]] },
  resources: { res: Res, extracted: Extracted },
  externalServices: {
    web: new PolledExternalService({
      items: {
        url: process.env.TROUPE_TEST_URL ?? "http://127.0.0.1:1/",
        interval: 50,
        conv: (data: Json) => (data as [string, number][]).map(([k, v]) => [k, [v]]),
      },
    }),
  },
  createGraph: (inputs: Inputs) => inputs,
};

await runService(service, { control_port: 8081, streaming_port: 8080 });
