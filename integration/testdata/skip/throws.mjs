// Mapper exceptions: the mapper of "checked" throws on a negative value, so
// a PATCH writing one is refused, and nothing of it is applied.
import { runService } from "@skipruntime/server";

class NonNegative {
  mapEntry(key, values) {
    const out = [];
    for (const v of values) {
      if (v < 0) throw new Error(`negative value ${v} for key ${key}`);
      out.push([key, v]);
    }
    return out;
  }
}

class CheckedResource {
  instantiate(cs) {
    return cs.input.map(NonNegative);
  }
}

const service = {
  initialData: { input: [["a", [1]]] },
  resources: { checked: CheckedResource },
  createGraph(inputs) {
    return inputs;
  },
};

const env = globalThis.process?.env ?? {};
await runService(service, {
  control_port: Number(env.SKIP_CONTROL_PORT ?? 8081),
  streaming_port: Number(env.SKIP_STREAMING_PORT ?? 8080),
});
