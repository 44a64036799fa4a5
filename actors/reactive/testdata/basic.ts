import type { Context, EagerCollection, Json, Mapper, Resource, SkipService, Values } from "@skipruntime/core";
import { Sum } from "@skipruntime/helpers";
import { runService } from "@skipruntime/server";

type Inputs = { input: EagerCollection<string, number> };

class Double implements Mapper<string, number, string, number> {
  mapEntry(key: string, values: Values<number>): Iterable<[string, number]> {
    return values.toArray().map((v) => [key, v * 2] as [string, number]);
  }
}

class All implements Mapper<string, number, string, number> {
  mapEntry(_key: string, values: Values<number>): Iterable<[string, number]> {
    return values.toArray().map((v) => ["all", v] as [string, number]);
  }
}

class Boom implements Mapper<string, number, string, number> {
  mapEntry(key: string, values: Values<number>): Iterable<[string, number]> {
    const v = values.getUnique();
    if (v < 0) throw new Error(`negative value for ${key}`);
    return [[key, v]];
  }
}

class Spin implements Mapper<string, number, string, number> {
  mapEntry(key: string, values: Values<number>): Iterable<[string, number]> {
    const v = values.getUnique();
    if (v === 666) {
      for (;;) {}
    }
    return [[key, v]];
  }
}

class Doubled implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<string, number> {
    return cs.input.map(Double);
  }
}

class Total implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<string, number> {
    return cs.input.mapReduce(All)(Sum);
  }
}

class Strict implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<string, number> {
    return cs.input.map(Boom);
  }
}

class Spinning implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<string, number> {
    return cs.input.map(Spin);
  }
}

class Raw implements Resource<Inputs> {
  constructor(private readonly params: Json) {}
  instantiate(cs: Inputs): EagerCollection<string, number> {
    return cs.input;
  }
}

// Moded reads data in instantiate: a change of "mode" rebuilds it.
class Moded implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<string, number> {
    const mode = cs.input.getUnique("mode", { ifNone: 0 });
    if (mode === 99) throw new Error("mode 99 is not allowed");
    return mode === 1 ? cs.input.slice("a", "a") : cs.input.slice("b", "b");
  }
}

const service: SkipService<Inputs, Inputs> = {
  initialData: { input: [["a", [1]], ["b", [2]]] },
  resources: { doubled: Doubled, total: Total, strict: Strict, spinning: Spinning, raw: Raw, moded: Moded },
  createGraph: (inputs: Inputs, _context: Context) => inputs,
};

await runService(service, { control_port: 9081, streaming_port: 9080 });
