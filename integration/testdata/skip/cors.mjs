// A service run with runService's no_cors: its streaming API is open to
// pages of any origin.
import { runService } from "@skipruntime/server";

class Posts {
  instantiate(cs) {
    return cs.posts;
  }
}

const env = globalThis.process?.env ?? {};
await runService(
  { initialData: { posts: [] }, resources: { posts: Posts }, createGraph: (inputs) => inputs },
  {
    control_port: Number(env.SKIP_CONTROL_PORT ?? 8081),
    streaming_port: Number(env.SKIP_STREAMING_PORT ?? 8080),
    no_cors: true,
  },
);
