/**
 * What the driver integration tests share: a real hub process with one real agent process of a
 * backend (its environment pointing at a fake CLI or a fake server), cleaned up after the file's
 * tests, and waiting for the outcomes a driver test checks.
 */
import { rmSync } from 'node:fs';
import { after } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import type { AgentInfo, Task } from '../../src/protocol/model.ts';
import { type CliProcess, startCli } from './cli-process.ts';
import { type HubProcess, makeTempDir, startHubProcess, waitFor } from './hub-process.ts';

export interface DriverAgent {
  hub: HubProcess;
  client: HubClient;
  agent: CliProcess;
}

/** One per test file: a throwaway HOME for the fakes, and everything started stopped in `after`. */
export class DriverBench {
  readonly home = makeTempDir('mittelo-fake-home-');
  private readonly cleanups: Array<() => unknown> = [];

  constructor() {
    after(async () => {
      for (const cleanup of this.cleanups.reverse()) await cleanup();
      rmSync(this.home, { recursive: true, force: true });
    });
  }

  /** Stop this when the file's tests end. */
  defer(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  /** A fresh hub and `mittelo agent --backend NAME` against it (run in `cwd` when given). */
  async start(
    backend: string,
    workerId: string,
    env: NodeJS.ProcessEnv,
    args: string[] = [],
    cwd?: string,
  ): Promise<DriverAgent> {
    const hub = await startHubProcess();
    const client = new HubClient({ port: hub.port, reconnect: false });
    const agent = startCli(
      ['agent', '--backend', backend, '--port', String(hub.port), '--worker-id', workerId, ...args],
      cwd ? { env, cwd } : { env },
    );
    this.defer(() => hub.stop());
    this.defer(() => client.close());
    this.defer(() => agent.kill());
    return { hub, client, agent };
  }
}

/** The agent as the hub lists it once it has reported itself unhealthy. */
export async function untilUnhealthy(client: HubClient, workerId: string): Promise<AgentInfo> {
  const info = await waitFor(
    async () => (await client.agents()).find((a) => a.worker_id === workerId && !a.healthy),
    `agent ${workerId} to report itself unhealthy`,
  );
  return info!;
}

/** The task once it is back in the queue (released; a parked lease may take it once more first). */
export async function untilReleased(client: HubClient, id: number): Promise<Task> {
  const task = await waitFor(async () => {
    const current = await client.get(id);
    return current.status === 'queued' ? current : null;
  }, `task ${id} back in the queue`);
  return task!;
}
