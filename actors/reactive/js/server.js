// Troupe's @skipruntime/server: runService registers the service with
// Troupe, which serves it on its own doors.
import "@skipruntime/core";

const T = globalThis.__troupe;

export async function runService(service, options = {}) {
  T.register(service, Number(options.control_port ?? 8081), Number(options.streaming_port ?? 8080), Boolean(options.no_cors));
  return { close: async () => {} };
}
