import type { EagerCollection, Json, Mapper, Resource, SkipService, Values } from "@skipruntime/core";
import { Sum } from "@skipruntime/helpers";
import { runService } from "@skipruntime/server";

type Inputs = { input: EagerCollection<string, number> };

class Total implements Mapper<string, number, string, number> {
  mapEntry(_key: string, values: Values<number>): Iterable<[string, number]> {
    return values.toArray().map((v) => ["total", v] as [string, number]);
  }
}

class Summed implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<string, number> {
    return cs.input.mapReduce(Total)(Sum);
  }
}

class Plain implements Resource<Inputs> {
  constructor(readonly params: Json) {}
  instantiate(cs: Inputs): EagerCollection<string, number> {
    return cs.input;
  }
}

const service: SkipService<Inputs, Inputs> = {
  initialData: { input: [] },
  resources: { sum: Summed, plain: Plain },
  createGraph: (inputs) => inputs,
};

await runService(service, { control_port: 8081, streaming_port: 8080 });
