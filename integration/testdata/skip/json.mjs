// jsonExtract: each value of "input" is {value, pattern}; the resource
// "extract" maps it to what context.jsonExtract finds.
import { runService } from "@skipruntime/server";

class Extract {
  mapEntry(key, values, context) {
    const v = values.getUnique();
    return [[key, context.jsonExtract(v.value, v.pattern)]];
  }
}

class ExtractResource {
  instantiate(cs, context) {
    return cs.input.map(Extract);
  }
}

const service = {
  initialData: { input: [] },
  resources: { extract: ExtractResource },
  createGraph(inputs) {
    return inputs;
  },
};

const env = globalThis.process?.env ?? {};
await runService(service, {
  control_port: Number(env.SKIP_CONTROL_PORT ?? 8081),
  streaming_port: Number(env.SKIP_STREAMING_PORT ?? 8080),
});
