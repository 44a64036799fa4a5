import type { EagerCollection, Json, Resource, SkipService } from "@skipruntime/core";
import { fetchJSON, SkipServiceBroker } from "@skipruntime/helpers";
import { runService } from "@skipruntime/server";

type Inputs = { seeded: EagerCollection<string, Json> };

const url = process.env.TROUPE_TEST_URL ?? "http://127.0.0.1:1";
// Top-level await of Go-backed HTTP, before runService.
const [seed, headers] = await fetchJSON<[string, Json][]>(`${url}/seed`, "GET");
const broker = new SkipServiceBroker({ host: new URL(url).hostname, control_port: Number(new URL(url).port), streaming_port: 1 });
const remote = await broker.getAll<string, Json>("remote", { x: 1 });

class All implements Resource<Inputs> {
  instantiate(cs: Inputs): EagerCollection<string, Json> {
    return cs.seeded;
  }
}

const service: SkipService<Inputs, Inputs> = {
  initialData: {
    seeded: [
      ...(seed ?? []).map(([k, v]) => [k, [v]] as [string, Json[]]),
      ["content-type", [headers.get("Content-Type")]],
      ...remote,
    ],
  },
  resources: { all: All },
  createGraph: (inputs) => inputs,
};

await runService(service, { control_port: 8081, streaming_port: 8080 });
