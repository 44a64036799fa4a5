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

const service: SkipService<Inputs, Inputs> = {
  initialData: { input: [["x", [{ a: { b: 2 }, tags: ["t", "t"] }]], ["y", [null]]] },
  resources: { res: Res },
  createGraph: (inputs) => ({ ...inputs }),
};

await runService(service, { control_port: 8081, streaming_port: 8080 });
