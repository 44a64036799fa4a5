// A sum service: the input collection "input" maps keys to numbers; the
// resource "sum" holds one key, "total", the sum of every value, and the
// resource "doubled" each key with its values doubled.
import { runService } from "@skipruntime/server";
import { Sum } from "@skipruntime/helpers";

class ToTotal {
  mapEntry(key, values) {
    return values.toArray().map((v) => ["total", v]);
  }
}

class Doubler {
  mapEntry(key, values) {
    return values.toArray().map((v) => [key, v * 2]);
  }
}

class SumResource {
  instantiate(cs) {
    return cs.input.map(ToTotal).reduce(Sum);
  }
}

class DoubledResource {
  instantiate(cs) {
    return cs.input.map(Doubler);
  }
}

const service = {
  initialData: { input: [] },
  resources: { sum: SumResource, doubled: DoubledResource },
  createGraph(inputs) {
    return inputs;
  },
};

// The tests give the real Skip server its ports in the environment; Troupe
// takes them from its flags.
const env = globalThis.process?.env ?? {};
await runService(service, {
  control_port: Number(env.SKIP_CONTROL_PORT ?? 8081),
  streaming_port: Number(env.SKIP_STREAMING_PORT ?? 8080),
});
