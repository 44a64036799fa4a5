import type { EagerCollection, Json, Mapper, Resource, SkipService, Values } from "@skipruntime/core";
import { runService } from "@skipruntime/server";

type Inputs = { input: EagerCollection<string, Json> };

async function* counter(n: number) {
  for (let i = 0; i < n; i++) yield i;
}

let total = 0;
for await (const i of counter(4)) total += i;

class Feature implements Mapper<string, Json, string, Json> {
  static readonly label = "f";
  #seen = new Map<string, number>();
  *mapEntry(key: string, values: Values<Json>): Iterable<[string, Json]> {
    const o = values.getUnique() as { a?: { b?: number }; tags?: string[] } | null;
    const tags = new Set([...(o?.tags ?? []), Feature.label]);
    this.#seen.set(key, (this.#seen.get(key) ?? 0) + 1);
    const url = new URL(`http://h:1/p?k=${encodeURIComponent(key)}`);
    yield [key, { b: o?.a?.b ?? -1, tags: [...tags].sort(), total, q: url.searchParams.get("k"), bigint: String(10n ** 3n) }];
  }
}

class Res implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<string, Json> {
    return cs.input.map(Feature);
  }
}

// Skip's examples sort toArray's array in place: it is the key's own
// array, not frozen; the values in it are.
class Sorted implements Mapper<string, Json, string, Json> {
  mapEntry(key: string, values: Values<Json>): Iterable<[string, Json]> {
    const vs = values.toArray();
    vs.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    return [[key, [...values]]];
  }
}

class SortedRes implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<string, Json> {
    return cs.input.map(Sorted);
  }
}

// Reversing a value's array changes a frozen value.
class Mutate implements Mapper<string, Json, string, Json> {
  mapEntry(key: string, values: Values<Json>): Iterable<[string, Json]> {
    const o = values.getUnique() as { tags?: string[] } | null;
    return [[key, o?.tags?.reverse() ?? []]];
  }
}

class MutateRes implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<string, Json> {
    return cs.input.map(Mutate);
  }
}

const service: SkipService<Inputs, Inputs> = {
  initialData: { input: [["x", [{ a: { b: 2 }, tags: ["t", "u"] }]], ["y", [null]]] },
  resources: { res: Res, sorted: SortedRes, mutate: MutateRes },
  createGraph: (inputs) => ({ ...inputs }),
};

await runService(service, { control_port: 8081, streaming_port: 8080 });
