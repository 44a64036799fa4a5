// The sum service in TypeScript, to prove that Troupe bundles it (types,
// interfaces, `implements`, parameter properties) as it stands.
import type { EagerCollection, Json, Mapper, Resource, SkipService, Values } from "@skipruntime/core";
import { Sum } from "@skipruntime/helpers";
import { runService } from "@skipruntime/server";

type Inputs = { input: EagerCollection<string, number> };

interface Scaled {
  factor: number;
}

class Scale implements Mapper<string, number, string, number> {
  constructor(private readonly factor: number) {}
  mapEntry(key: string, values: Values<number>): Iterable<[string, number]> {
    return values.toArray().map((v): [string, number] => [key, v * this.factor]);
  }
}

class ToTotal implements Mapper<string, number, string, number> {
  mapEntry(_key: string, values: Values<number>): Iterable<[string, number]> {
    return values.toArray().map((v): [string, number] => ["total", v]);
  }
}

class ScaledResource implements Resource<Inputs> {
  private readonly factor: number;
  constructor(params: Json) {
    this.factor = (params as unknown as Scaled).factor ?? 1;
  }
  instantiate(cs: Inputs): EagerCollection<string, number> {
    return cs.input.map(Scale, this.factor);
  }
}

class SumResource implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<string, number> {
    return cs.input.map(ToTotal).reduce(Sum);
  }
}

const service: SkipService<Inputs, Inputs> = {
  initialData: { input: [] },
  resources: { scaled: ScaledResource, sum: SumResource },
  createGraph(inputs: Inputs): Inputs {
    return inputs;
  },
};

await runService(service, { control_port: 8081, streaming_port: 8080 });
