/**
 * `mittelo run --limit/--rate` against a running hub (--hub): the caps hold for the run's
 * duration. They are set when the run starts and, when it ends, each scope gets back what it had
 * before (its old cap, or none). An embedded hub takes them at start instead (start-hub.ts).
 */
import type { HubClient } from '../client/hub-client.ts';
import type { Cap } from '../protocol/model.ts';

/** Set `caps` on the hub; the function returned puts back what those scopes had. */
export async function applyRunCaps(client: HubClient, caps: readonly Cap[]): Promise<() => Promise<void>> {
  const before = new Map((await client.limits()).map((cap) => [cap.scope, cap]));
  const set: string[] = [];
  const restore = async () => {
    for (const scope of set) {
      const old = before.get(scope);
      if (old) await client.setLimit({ scope, concurrency: old.concurrency, rate_per_min: old.rate_per_min });
      else await client.clearLimit(scope);
    }
  };
  try {
    for (const cap of caps) {
      await client.setLimit({
        scope: cap.scope,
        concurrency: cap.concurrency,
        rate_per_min: cap.rate_per_min,
      });
      set.push(cap.scope);
    }
  } catch (error) {
    await restore().catch(() => {});
    throw error;
  }
  return restore;
}
