import type { Context, EagerCollection, Entry, ExternalService, Json, Resource, SkipService } from "@skipruntime/core";
import { runService } from "@skipruntime/server";

// A user-written external service: a ticker driven by setInterval.
class Ticker implements ExternalService {
  private readonly intervals = new Map<string, ReturnType<typeof setInterval>>();
  async subscribe(
    instance: string,
    resource: string,
    params: Json,
    callbacks: { update: (updates: Entry<Json, Json>[], isInit: boolean) => Promise<void>; error: (e: unknown) => void },
  ): Promise<void> {
    const step = (params as { step: number }).step;
    let n = 0;
    await callbacks.update([[resource, [n]]], true);
    this.intervals.set(instance, setInterval(() => {
      n += step;
      void callbacks.update([[resource, [n]]], false);
    }, 10));
  }
  unsubscribe(instance: string): void {
    clearInterval(this.intervals.get(instance));
    this.intervals.delete(instance);
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

let late = "not yet";
setTimeout((v: string) => { late = v; }, 1, "fired");

class Ticks implements Resource<{}> {
  constructor(private readonly params: Json) {}
  instantiate(_cs: {}, context: Context): EagerCollection<Json, Json> {
    return context.useExternalResource({ service: "ticker", identifier: "ticks", params: this.params });
  }
}

const service: SkipService<{}, {}> = {
  initialData: {},
  externalServices: { ticker: new Ticker() },
  resources: { ticks: Ticks },
  createGraph: () => ({}),
};

await runService(service, { control_port: 8081, streaming_port: 8080 });
