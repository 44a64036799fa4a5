// Statistics over "scores" (player -> numbers) and "bonus" (player ->
// numbers): mapReduce with Sum, Count, Min and Max; slice and take with
// params; merge; size; a lazy collection read by a mapper; JSON params.
import { runService } from "@skipruntime/server";
import { Sum, Count, Min, Max } from "@skipruntime/helpers";

class All {
  mapEntry(key, values) {
    return values.toArray().map((v) => ["all", v]);
  }
}

class Identity {
  mapEntry(key, values) {
    return values.toArray().map((v) => [key, v]);
  }
}

class PerPlayer {
  mapEntry(key, values) {
    return values.toArray().map((v) => [key, v]);
  }
}

class StatsResource {
  constructor(params) {
    this.kind = params.kind ?? "sum";
  }
  instantiate(cs) {
    const reducer = { sum: Sum, count: Count, min: Min, max: Max }[this.kind];
    if (!reducer) throw new Error(`unknown statistic ${this.kind}`);
    return cs.scores.mapReduce(All)(reducer);
  }
}

class PerPlayerResource {
  instantiate(cs) {
    return cs.scores.mapReduce(PerPlayer)(Sum);
  }
}

class RangeResource {
  constructor(params) {
    this.lo = params.lo;
    this.hi = params.hi;
  }
  instantiate(cs) {
    return cs.scores.slice(this.lo, this.hi);
  }
}

class SlicesResource {
  constructor(params) {
    this.ranges = params.ranges;
  }
  instantiate(cs) {
    return cs.scores.slices(...this.ranges);
  }
}

class TopResource {
  constructor(params) {
    this.n = params.n;
  }
  instantiate(cs) {
    return cs.scores.take(this.n);
  }
}

class MergedResource {
  instantiate(cs) {
    return cs.scores.merge(cs.bonus).map(Identity);
  }
}

class SizeMapper {
  constructor(other) {
    this.other = other;
  }
  mapEntry(key, values) {
    return [[key, this.other.size()]];
  }
}

class SizeResource {
  instantiate(cs) {
    return cs.scores.map(SizeMapper, cs.bonus);
  }
}

// Lazy: the running total of the scores of players "p1" .. "p<n>" is
// computed on demand, each key reading the one before it.
class Running {
  constructor(scores) {
    this.scores = scores;
  }
  compute(self, key) {
    const n = Number(key.slice(1));
    const here = this.scores.getArray(key).reduce((a, b) => a + b, 0);
    if (n <= 1) return [here];
    return [here + (self.getUnique(`p${n - 1}`) ?? 0)];
  }
}

class UseLazy {
  constructor(lazy) {
    this.lazy = lazy;
  }
  mapEntry(key, values) {
    if (!/^p[0-9]+$/.test(key)) return [];
    return [[key, this.lazy.getUnique(key)]];
  }
}

class LazyResource {
  instantiate(cs, context) {
    const lazy = context.createLazyCollection(Running, cs.scores);
    return cs.scores.map(UseLazy, lazy);
  }
}

class EchoParams {
  constructor(params) {
    this.params = params;
  }
  mapEntry(key, values) {
    return [[key, this.params]];
  }
}

class ParamsResource {
  constructor(params) {
    this.params = params;
  }
  instantiate(cs) {
    return cs.scores.map(EchoParams, this.params);
  }
}

const service = {
  initialData: { scores: [], bonus: [] },
  resources: {
    stats: StatsResource,
    perPlayer: PerPlayerResource,
    range: RangeResource,
    slices: SlicesResource,
    top: TopResource,
    merged: MergedResource,
    size: SizeResource,
    lazy: LazyResource,
    params: ParamsResource,
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
