/**
 * A swarm: several agents in one process, each with its own connection and worker id, started
 * from specs like `echo=2`. Backends are resolved and checked once per backend name, before any
 * agent connects, so a typo or an unready backend is reported up front.
 */

import { type BackendSettings, createBackend } from '../backends/registry.ts';
import type { Backend, PreflightReport } from '../backends/types.ts';
import { MitteloError } from '../errors.ts';
import { Agent, type AgentExit, type AgentOptions } from './agent.ts';
import { defaultWorkerId } from './worker-id.ts';

export interface AgentSpec {
  backend: string;
  count: number;
}

/** Most agents one spec may start: a typo like `echo=2000000` should not fork-bomb the machine. */
const MAX_AGENTS_PER_SPEC = 1000;
const SPEC_FORM = 'use name=count, for example --agent echo=2';

export function parseAgentSpec(text: string): AgentSpec {
  const match = /^([^=\s]*)=(.*)$/.exec(text.trim());
  if (!match) throw new MitteloError('bad_request', `bad --agent "${text}": ${SPEC_FORM}`);
  const [, backend, rawCount] = match as unknown as [string, string, string];
  if (backend === '')
    throw new MitteloError('bad_request', `bad --agent "${text}": the backend name is missing; ${SPEC_FORM}`);
  const count = /^\d+$/.test(rawCount) ? Number(rawCount) : Number.NaN;
  if (!Number.isInteger(count) || count < 1 || count > MAX_AGENTS_PER_SPEC) {
    throw new MitteloError(
      'bad_request',
      `bad --agent "${text}": the count must be a whole number from 1 to ${MAX_AGENTS_PER_SPEC}; ${SPEC_FORM}`,
    );
  }
  return { backend, count };
}

export type SharedAgentOptions = Omit<AgentOptions, 'backend' | 'workerId' | 'log'>;

export interface SwarmOptions extends SharedAgentOptions {
  specs: AgentSpec[];
  backendSettings?: BackendSettings;
  /** Prefix for worker ids (default `<host>-<pid>-<hex>`); each agent adds `-<backend>-<n>`. */
  workerIdPrefix?: string;
  log?: (workerId: string, message: string) => void;
}

export interface SwarmPlan {
  backends: Map<string, Backend>;
  reports: PreflightReport[];
}

/** Resolve every backend named in the specs (unknown names throw) and run each preflight once. */
export async function planSwarm(specs: AgentSpec[], settings: BackendSettings = {}): Promise<SwarmPlan> {
  if (specs.length === 0) throw new MitteloError('bad_request', `no agents given: ${SPEC_FORM}`);
  const backends = new Map<string, Backend>();
  for (const spec of specs) {
    if (!backends.has(spec.backend)) backends.set(spec.backend, createBackend(spec.backend, settings));
  }
  const reports = await Promise.all([...backends.values()].map((backend) => backend.preflight()));
  return { backends, reports };
}

export class Swarm {
  readonly agents: Agent[] = [];

  constructor(options: SwarmOptions, plan: SwarmPlan) {
    const prefix = options.workerIdPrefix ?? defaultWorkerId();
    const { specs, backendSettings: _settings, workerIdPrefix: _prefix, log, ...shared } = options;
    for (const spec of specs) {
      const backend = plan.backends.get(spec.backend)!;
      // The plan checked each backend once; agents re-check only one that was not ready.
      const ready = plan.reports.find((report) => report.backend === backend.name)?.ready ?? false;
      for (let n = 1; n <= spec.count; n += 1) {
        const workerId = `${prefix}-${spec.backend}-${n}`;
        this.agents.push(
          new Agent({
            ...shared,
            backend,
            workerId,
            preflight: ready ? false : (shared.preflight ?? true),
            log: log ? (message) => log(workerId, message) : undefined,
          }),
        );
      }
    }
  }

  /** Run every agent until stop(); resolves with each agent's exit. */
  run(): Promise<AgentExit[]> {
    return Promise.all(this.agents.map((agent) => agent.run()));
  }

  /** Stop every agent (see Agent.stop); a second call cuts the grace period short. */
  async stop(graceMs?: number): Promise<void> {
    await Promise.all(this.agents.map((agent) => agent.stop(graceMs)));
  }

  get counts(): { done: number; failed: number; released: number; dropped: number } {
    const total = { done: 0, failed: 0, released: 0, dropped: 0 };
    for (const agent of this.agents) {
      total.done += agent.counts.done;
      total.failed += agent.counts.failed;
      total.released += agent.counts.released;
      total.dropped += agent.counts.dropped;
    }
    return total;
  }
}
