// An external service polled over HTTP: the test serves
// EXTERNAL_URL/prices?symbol=X as {"symbol": X, "price": n}, and writes the
// URL into this file before starting the service (Troupe's runtime has no
// process.env to read it from).
import { runService } from "@skipruntime/server";
import { PolledExternalService } from "@skipruntime/helpers";

const url = "__EXTERNAL_URL__";

// Each watcher of the resource's symbol gets its price, joined through
// getArray on the external collection.
class Quote {
  constructor(prices) {
    this.prices = prices;
  }
  mapEntry(key, values) {
    const out = [];
    for (const symbol of values) {
      for (const p of this.prices.getArray(symbol)) out.push([key, p]);
    }
    return out;
  }
}

class QuotesResource {
  constructor(params) {
    this.symbol = params.symbol;
  }
  instantiate(cs, context) {
    const prices = context.useExternalResource({
      service: "market",
      identifier: "prices",
      params: { symbol: this.symbol },
    });
    return cs.watch.map(Quote, prices);
  }
}

const service = {
  initialData: { watch: [] },
  resources: { quotes: QuotesResource },
  externalServices: {
    market: new PolledExternalService({
      prices: {
        url: `${url}/prices`,
        interval: 50,
        conv: (data) => [[data.symbol, [data.price]]],
      },
    }),
  },
  createGraph(inputs) {
    return inputs;
  },
};

const env = globalThis.process?.env ?? {};
await runService(service, {
  control_port: Number(env.SKIP_CONTROL_PORT ?? 8081),
  streaming_port: Number(env.SKIP_STREAMING_PORT ?? 8080),
});
