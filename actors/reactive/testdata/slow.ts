import type { EagerCollection, Mapper, Resource, SkipService, Values } from "@skipruntime/core";
import { runService } from "@skipruntime/server";

type Inputs = { input: EagerCollection<number, number> };

// Slow takes 1 ms of wall time a key: over 2500 keys the first build of
// an instance lasts longer than a request may, however idle the machine.
class Slow implements Mapper<number, number, number, number> {
  mapEntry(key: number, values: Values<number>): Iterable<[number, number]> {
    const t0 = Date.now();
    while (Date.now() - t0 < 1) {}
    return [[key, values.getUnique() + 1]];
  }
}

class SlowRes implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<number, number> {
    return cs.input.map(Slow);
  }
}

const input: [number, number[]][] = [];
for (let i = 0; i < 2500; i++) input.push([i, [i]]);

const service: SkipService<Inputs, Inputs> = {
  initialData: { input },
  resources: { slow: SlowRes },
  createGraph: (inputs) => inputs,
};

await runService(service, { control_port: 8081, streaming_port: 8080 });
