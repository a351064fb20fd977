/**
 * Scenario 6: 1,000 idle agents, each on its own TCP connection with a parked long-poll lease
 * (`wait_ms` 30000, leasing again whenever answered). Measures the hub's CPU use while nothing
 * happens, then how long a new task takes to reach one of them: from writing the `enqueue` to
 * an agent's socket receiving the lease answer that carries the task.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from '../lib/context.ts';
import { monotonicMicros } from '../lib/cpu-profile.ts';
import type { BenchHub } from '../lib/hub-process.ts';
import type { Scenario } from '../lib/measure.ts';
import { percentile, round } from '../lib/numbers.ts';
import { clockTicks, cpuSeconds, MB, rssBytes } from '../lib/proc-stats.ts';
import { formatNumber } from '../lib/report.ts';
import { NO_V1_METHODS, notApplicable } from '../lib/v01-baseline.ts';

const AGENTS = 1_000;
const WAIT_MS = 30_000;
const IDLE_WINDOW_MS = 3_000;
const CONNECT_CONCURRENCY = 50;
const DELIVERY_TIMEOUT_MS = 5_000;
/** Descriptors besides the agents' sockets: hub listener, control connection, files, stdio. */
const SPARE_DESCRIPTORS = 100;

type Reply = {
  id?: unknown;
  result?: { tasks?: Array<{ task_id: number; prompt: string; lease_token?: string }> };
  error?: unknown;
};

/** Raw-socket agents, all in this process; `onTask` hears of every task delivered. */
class IdleAgents {
  readonly sockets: net.Socket[] = [];
  errors: string[] = [];
  private readonly hub: BenchHub;
  private readonly onTask: (prompt: string, at: number) => void;

  constructor(hub: BenchHub, onTask: (prompt: string, at: number) => void) {
    this.hub = hub;
    this.onTask = onTask;
  }

  async connect(count: number): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const index = next++;
        this.sockets.push(await this.open(index));
      }
    };
    await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private open(index: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.hub.host, port: this.hub.port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', (error) => this.noteError(`agent ${index}: ${error.message}`));
        socket.setNoDelay(true);
        socket.setEncoding('utf8');
        const workerId = `idle-${index}`;
        let buffer = '';
        let sequence = 0;
        const lease = () => {
          sequence += 1;
          socket.write(
            `${JSON.stringify({ id: `lease-${sequence}`, method: 'lease', params: { worker_id: workerId, max_tasks: 1, wait_ms: WAIT_MS } })}\n`,
          );
        };
        socket.on('data', (text: string) => {
          const at = performance.now();
          buffer += text;
          for (let newline = buffer.indexOf('\n'); newline !== -1; newline = buffer.indexOf('\n')) {
            const line = buffer.slice(0, newline);
            buffer = buffer.slice(newline + 1);
            const reply = JSON.parse(line) as Reply;
            if (reply.error) {
              this.noteError(`agent ${index}: ${JSON.stringify(reply.error)}`);
              continue;
            }
            const tasks = reply.result?.tasks;
            if (!tasks) continue; // an ack's answer
            for (const task of tasks) {
              this.onTask(task.prompt, at);
              const ack = {
                id: `ack-${task.task_id}`,
                method: 'ack',
                params: {
                  task_id: task.task_id,
                  status: 'done',
                  result: 'ok',
                  lease_token: task.lease_token,
                },
              };
              socket.write(`${JSON.stringify(ack)}\n`);
            }
            lease();
          }
        });
        lease();
        resolve(socket);
      });
    });
  }

  private noteError(text: string): void {
    if (this.errors.length < 20) this.errors.push(text);
  }
}

/** One request at a time on a plain connection (the enqueuer and the bench's questions). */
class ControlConnection {
  private readonly socket: net.Socket;
  private buffer = '';
  private waiting: ((line: string) => void) | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      for (let newline = this.buffer.indexOf('\n'); newline !== -1; newline = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, newline);
        this.buffer = this.buffer.slice(newline + 1);
        this.waiting?.(line);
      }
    });
  }

  static open(hub: BenchHub): Promise<ControlConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: hub.host, port: hub.port }, () =>
        resolve(new ControlConnection(socket)),
      );
      socket.once('error', reject);
    });
  }

  /** Write the request now; the promise settles with the answer. */
  call(method: string, params: object): Promise<Record<string, unknown>> {
    const answer = new Promise<string>((resolve) => {
      this.waiting = resolve;
    });
    this.socket.write(`${JSON.stringify({ id: 1, method, params })}\n`);
    return answer.then((line) => {
      const reply = JSON.parse(line) as { result?: Record<string, unknown>; error?: unknown };
      if (reply.error) throw new Error(`${method}: ${JSON.stringify(reply.error)}`);
      return reply.result ?? {};
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The soft descriptor limit children inherit (Node cannot read or raise its own). */
function descriptorLimit(): number | null {
  const answer = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const text = answer.stdout?.trim();
  if (text === 'unlimited') return Number.POSITIVE_INFINITY;
  const value = Number(text);
  return Number.isFinite(value) && value > 0 ? value : null;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function run(ctx: BenchContext): Promise<void> {
  const limit = descriptorLimit();
  let agentCount = AGENTS;
  if (limit !== null && limit < AGENTS + SPARE_DESCRIPTORS) {
    agentCount = Math.max(10, limit - SPARE_DESCRIPTORS);
    process.stdout.write(
      `NOTE: ulimit -n is ${limit}; 1,000 agents need > ${AGENTS + SPARE_DESCRIPTORS} descriptors in this process and in the hub.\n` +
        `      Running ${agentCount} agents instead. Raise it (ulimit -n 4096) and run again for the real figure.\n`,
    );
  }
  const samples = ctx.size(500, 100);
  const warmUp = 20;

  const outcome = await ctx.withHub({}, async (hub) => {
    const deliveries = new Map<string, (at: number) => void>();
    const agents = new IdleAgents(hub, (prompt, at) => deliveries.get(prompt)?.(at));
    const control = await ControlConnection.open(hub);
    try {
      ctx.log(`connecting ${agentCount} agents, each with a parked lease (wait_ms ${WAIT_MS})`);
      await agents.connect(agentCount);
      // Every agent's first lease has reached the hub once the registry knows every worker id.
      await until(
        async () => {
          const listed = (await control.call('agents', {})).agents as Array<{ worker_id: string }>;
          return listed.filter((agent) => agent.worker_id.startsWith('idle-')).length >= agentCount;
        },
        `${agentCount} agents to lease`,
        30_000,
      );
      await sleep(1_000);
      const cpuBefore = cpuSeconds(hub.pid);
      const started = performance.now();
      await sleep(IDLE_WINDOW_MS);
      const cpuPercent = (100 * (cpuSeconds(hub.pid) - cpuBefore)) / ((performance.now() - started) / 1000);
      const rssMb = round(rssBytes(hub.pid) / MB, 1);
      ctx.log(
        `hub idle: ${cpuPercent.toFixed(2)}% of a core, RSS ${rssMb} MB; now ${samples} single enqueues`,
      );

      const latencies: number[] = [];
      const timedFrom = monotonicMicros();
      for (let k = 0; k < warmUp + samples; k++) {
        const prompt = `idle-probe-${k}`;
        const delivered = new Promise<number>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`task ${prompt} reached no agent within ${DELIVERY_TIMEOUT_MS} ms`)),
            DELIVERY_TIMEOUT_MS,
          );
          deliveries.set(prompt, (at) => {
            clearTimeout(timer);
            resolve(at);
          });
        });
        const sent = performance.now();
        const enqueued = control.call('enqueue', { prompt });
        const at = await delivered;
        await enqueued;
        deliveries.delete(prompt);
        if (k >= warmUp) latencies.push(at - sent);
        // A short, varied pause: the agent that got the task acks it and parks again meanwhile.
        await sleep(2 + Math.random() * 8);
      }
      hub.timed.push([timedFrom, monotonicMicros()]);
      const stats = (await control.call('stats', {})).stats as Record<string, number>;
      return { cpuPercent, rssMb, latencies, stats, errors: agents.errors };
    } finally {
      control.close();
      agents.close();
    }
  });

  if (outcome.errors.length) ctx.log(`agent errors: ${outcome.errors.slice(0, 3).join(' | ')}`);
  const p50 = percentile(outcome.latencies, 0.5);
  const p99 = percentile(outcome.latencies, 0.99);
  ctx.keep({
    agents: agentCount,
    idle_cpu_percent: round(outcome.cpuPercent, 3),
    idle_rss_mb: outcome.rssMb,
    samples: outcome.latencies.length,
    p50_ms: round(p50, 3),
    p99_ms: round(p99, 3),
    max_ms: round(Math.max(...outcome.latencies), 3),
    stats_after: outcome.stats,
    agent_errors: outcome.errors,
  });
  const agentsText = agentCount.toLocaleString('en-US');
  // CPU time is counted in clock ticks: one tick over the window is the smallest step.
  const resolution = 100 / (clockTicks() * (IDLE_WINDOW_MS / 1000));
  const polling = 'v0.1 agents poll every 1 s; expected, not same-run';
  ctx.report({
    label: `idle CPU, ${agentsText} agents`,
    value: outcome.cpuPercent,
    unit: '% core',
    better: 'lower',
    target: { op: '<', value: 5 },
    baseline: notApplicable(NO_V1_METHODS),
    note: `over ${IDLE_WINDOW_MS / 1000} s with every agent parked (resolution ${formatNumber(resolution, 2)}%); hub RSS ${outcome.rssMb} MB`,
  });
  ctx.report({
    label: 'new task to idle agent p50',
    value: p50,
    unit: 'ms',
    better: 'lower',
    target: { op: '<=', value: 2 },
    baseline: { value: 500, sameRun: false, text: polling },
    digits: 2,
  });
  ctx.report({
    label: 'new task to idle agent p99',
    value: p99,
    unit: 'ms',
    better: 'lower',
    baseline: { value: 1000, sameRun: false, text: polling },
    digits: 2,
    note: `${outcome.latencies.length} tasks, one at a time, ${agentsText} agents waiting`,
  });
}

export const idleAgentsScenario: Scenario = {
  name: 'idle-agents',
  title: '1,000 idle agents on long-poll leases: idle CPU, and enqueue-to-agent latency',
  needsHubload: false,
  run,
};
