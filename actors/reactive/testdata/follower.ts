import type { Context, EagerCollection, Json, Mapper, Resource, SkipService, Values } from "@skipruntime/core";
import { SkipExternalService } from "@skipruntime/helpers";
import { runService } from "@skipruntime/server";

type Shared = { mirrored: EagerCollection<string, number> };

class Ten implements Mapper<string, number, string, number> {
  mapEntry(key: string, values: Values<number>): Iterable<[string, number]> {
    return values.toArray().map((v) => [key, v * 10] as [string, number]);
  }
}

class Times implements Resource<Shared> {
  instantiate(cs: Shared): EagerCollection<string, number> {
    return cs.mirrored.map(Ten);
  }
}

const base = process.env.TROUPE_TEST_URL ?? "http://127.0.0.1:1";

const service: SkipService<{}, Shared> = {
  initialData: {},
  externalServices: { other: new SkipExternalService(base, base) },
  resources: { times: Times },
  createGraph: (_inputs: {}, context: Context) => ({
    mirrored: context.useExternalResource({ service: "other", identifier: "numbers", params: { from: 1 } }),
  }),
};

await runService(service, { control_port: 8081, streaming_port: 8080 });
