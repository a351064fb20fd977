/**
 * Agents for the agent scenarios: our `agent`, `swarm` and `run` commands as child processes, run
 * as an installed `mittelo` runs them (bin/mittelo.js over a dist/ compiled from the current src/,
 * so a stale dist/ is never measured), and the Python v0.1 agent from its checkout. Plus the small
 * steps those scenarios share: waiting for agents to connect, watching a hub's done count, and
 * writing a JSONL pack.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HubClient } from '../../src/client/hub-client.ts';
import { track } from './children.ts';
import { compiledHub } from './compiled-hub.ts';
import type { BenchContext } from './context.ts';
import { monotonicMicros } from './cpu-profile.ts';
import { type BenchHub, REPO_ROOT } from './hub-process.ts';
import { round } from './numbers.ts';

/** How long a stopped agent may take to exit on SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;

export interface BenchProcess {
  /** What it is, for messages: "agent echo", "v0.1 agent shell", ... */
  name: string;
  pid: number;
  /** Settles when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, SIGKILL after a grace period; resolves with the milliseconds it took to exit. */
  stop(): Promise<number>;
}

let cliPath: Promise<string> | null = null;

/**
 * `bin/mittelo.js`, run against a dist/ that tsc compiles from the current src/ into the bench's
 * temporary folder (once per bench run; the memory scenario shares the build): the installed
 * command, exactly, with the sources under test.
 */
export function mitteloCli(ctx: BenchContext): Promise<string> {
  cliPath ??= compiledHub(ctx.tempRoot).then((compiled) => {
    if (!compiled.entry) throw new Error(`could not compile src/ for the agents: ${compiled.problem}`);
    if (compiled.problem) ctx.log(`compiled with complaints: ${compiled.problem}`);
    // entry is <root>/dist/cli/main.js; bin/mittelo.js imports ../dist/cli/main.js.
    const root = dirname(dirname(dirname(compiled.entry)));
    const bin = join(root, 'bin', 'mittelo.js');
    if (!existsSync(bin)) {
      mkdirSync(dirname(bin), { recursive: true });
      copyFileSync(join(REPO_ROOT, 'bin', 'mittelo.js'), bin);
    }
    return bin;
  });
  return cliPath;
}

/** The caller's MITTELO_* settings (token, host, backend, ...) must not change what is measured. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('MITTELO_')) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Start a command as a tracked child, keeping the tail of its output. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): BenchProcess {
  const child = track(
    spawn(command, args, { cwd: options.cwd, env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    stdout = (stdout + text).slice(-20_000);
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-20_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (error) => {
      stderr += `\ncould not start ${command}: ${error.message}`;
      resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const stop = async () => {
    const started = performance.now();
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return 0;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
    return performance.now() - started;
  };
  return {
    name,
    pid: child.pid ?? -1,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    stop,
  };
}

/** `mittelo <args>` (agent, swarm, run, ...) from the compiled tree, in `cwd`. */
export async function startMittelo(
  ctx: BenchContext,
  name: string,
  args: string[],
  cwd: string,
): Promise<BenchProcess> {
  const cli = await mitteloCli(ctx);
  return startProcess(name, process.execPath, [cli, ...args], { cwd });
}

/** `mittelo agent|swarm <args> --host --port` against `hub`. */
export function startMitteloAgents(
  ctx: BenchContext,
  hub: BenchHub,
  name: string,
  args: string[],
): Promise<BenchProcess> {
  return startMittelo(ctx, name, [...args, '--host', hub.host, '--port', String(hub.port)], ctx.tempRoot);
}

/** The v0.1 agent from its checkout: `python3 -m mittelo agent <args> --host --port`. */
export function startV01Agent(ctx: BenchContext, hub: BenchHub, args: string[]): BenchProcess {
  const checkout = ctx.settings.v01Dir;
  if (!checkout) throw new Error('no v0.1 checkout (MITTELO_BENCH_V01_DIR)');
  const python = process.env.MITTELO_BENCH_PYTHON || 'python3';
  const all = ['-m', 'mittelo', 'agent', ...args, '--host', hub.host, '--port', String(hub.port)];
  return startProcess(`v0.1 agent ${args.join(' ')}`, python, all, {
    cwd: checkout,
    env: { PYTHONUNBUFFERED: '1' },
  });
}

/**
 * Stop every process, and say how each ended: one that needed SIGKILL, or that had exited on its
 * own (crashed) before being asked to stop, is worth knowing about.
 */
export async function stopAll(ctx: BenchContext, processes: BenchProcess[]): Promise<void> {
  await Promise.all(
    processes.map(async (child) => {
      const before = await Promise.race([child.exited, sleep(0).then(() => null)]);
      if (before) {
        ctx.log(
          `${child.name} (pid ${child.pid}) had already exited (code ${before.code}, signal ${before.signal}); stderr: ${child.stderr().trim().slice(-500)}`,
        );
        return;
      }
      const ms = await child.stop();
      const how = await child.exited;
      if (how.signal === 'SIGKILL') {
        ctx.log(`${child.name} (pid ${child.pid}) ignored SIGTERM for ${STOP_GRACE_MS / 1000} s: killed`);
      }
      ctx.keep({ process: child.name, stop_ms: Math.round(ms), exit_code: how.code, signal: how.signal });
    }),
  );
}

/** Throw with the process's own words when it has exited. */
export async function assertRunning(child: BenchProcess): Promise<void> {
  const how = await Promise.race([child.exited, sleep(0).then(() => null)]);
  if (how) {
    throw new Error(
      `${child.name} exited (code ${how.code}, signal ${how.signal}); stderr: ${child.stderr().trim().slice(-800)}`,
    );
  }
}

/** Poll `check` every `intervalMs` until it is true; `alive` is asked in between (it may throw). */
export async function until(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs: number,
  options: { intervalMs?: number; alive?: () => Promise<void> } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    await options.alive?.();
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(options.intervalMs ?? 20);
  }
}

/** Wait until the hub lists `count` connected agents (our hub only: v0.1 has no `agents`). */
export function untilAgentsConnected(
  client: HubClient,
  count: number,
  processes: BenchProcess[],
  timeoutMs = 30_000,
): Promise<void> {
  return until(
    async () => (await client.agents()).filter((agent) => agent.connected).length >= count,
    `${count} agents to connect`,
    timeoutMs,
    {
      alive: async () => {
        for (const child of processes) await assertRunning(child);
      },
    },
  );
}

export interface DoneWatch {
  /** ms (performance.now) of the first poll that saw a finished task, and how many it saw. */
  firstAt: number;
  firstDone: number;
  /** ms of the poll that saw all of them finished. */
  endAt: number;
  failed: number;
}

/**
 * Poll `stats` every `intervalMs` until `total` tasks are finished (done or failed). Works on both
 * hubs; it is how the v0.1 baselines count, since v0.1 has neither `wait` nor events.
 */
export async function watchDone(
  client: HubClient,
  total: number,
  options: { intervalMs: number; timeoutMs: number; processes: BenchProcess[] },
): Promise<DoneWatch> {
  const deadline = Date.now() + options.timeoutMs;
  let firstAt: number | null = null;
  let firstDone = 0;
  for (;;) {
    const stats = await client.stats();
    const at = performance.now();
    const finished = stats.done + stats.failed;
    if (firstAt === null && finished > 0) {
      firstAt = at;
      firstDone = finished;
    }
    if (finished >= total) return { firstAt: firstAt ?? at, firstDone, endAt: at, failed: stats.failed };
    for (const child of options.processes) await assertRunning(child);
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${options.timeoutMs} ms: ${finished} of ${total} tasks finished (${JSON.stringify(stats)})`,
      );
    }
    await sleep(options.intervalMs);
  }
}

/** Drain rate from a DoneWatch: tasks finished after the first poll that saw one, per second. */
export function drainRate(watch: DoneWatch, total: number): number {
  const seconds = (watch.endAt - watch.firstAt) / 1000;
  if (seconds <= 0) throw new Error(`all ${total} tasks were finished by the first poll: too few to time`);
  return (total - watch.firstDone) / seconds;
}

/** Enqueue one at a time, each call answered before the next (as v0.1's `enqueue --jsonl` does). */
export async function enqueueOneByOne(client: HubClient, prompts: string[]): Promise<number[]> {
  const ids: number[] = [];
  for (const prompt of prompts) ids.push(await client.enqueue(prompt));
  return ids;
}

/** A JSONL pack of `count` tasks, {"prompt":"t<i>"} per line. */
export function writePack(path: string, count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(JSON.stringify({ prompt: `t${i}` }));
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Prompts t0..t<count-1>, the same as a pack's. */
export function prompts(count: number, prefix = 't'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

/**
 * Enqueue `total` tasks with enqueue_many, `chunk` a call, to a hub whose agents are connected, and
 * `wait` on each chunk as soon as its ids are back; the seconds from the first enqueue until the
 * last chunk is done. Every task must end done.
 */
export async function enqueueAndWait(
  client: HubClient,
  total: number,
  options: { chunk: number; prefix: string; timeoutMs: number },
): Promise<{ seconds: number; enqueueSeconds: number }> {
  const started = performance.now();
  const waits: Array<ReturnType<HubClient['wait']>> = [];
  for (let offset = 0; offset < total; offset += options.chunk) {
    const size = Math.min(options.chunk, total - offset);
    const ids = await client.enqueueMany(prompts(size, `${options.prefix}-${offset}-`));
    if (ids.length !== size) throw new Error(`enqueue_many answered ${ids.length} ids for ${size} tasks`);
    // The hub answers each chunk's wait when the last of its tasks is finished.
    waits.push(client.wait(ids, { timeout_ms: options.timeoutMs, mode: 'all' }));
  }
  const enqueueSeconds = (performance.now() - started) / 1000;
  const answers = await Promise.all(waits);
  const seconds = (performance.now() - started) / 1000;
  for (const answer of answers) {
    const notDone = answer.tasks.filter((task) => task.status !== 'done');
    if (answer.timed_out || notDone.length > 0) {
      const sample = notDone[0] ? `; for example ${JSON.stringify(notDone[0]).slice(0, 300)}` : '';
      throw new Error(
        `${notDone.length} tasks not done${answer.timed_out ? ` (wait timed out after ${options.timeoutMs / 1000} s)` : ''}${sample}`,
      );
    }
  }
  return { seconds, enqueueSeconds };
}

export interface OurDrain {
  /** What the agents are, for logs (`swarm echo=4`). */
  label: string;
  /** The mittelo command that starts them (`['swarm', '--agent', 'echo=4']`). */
  args: string[];
  agents: number;
  total: number;
  chunk: number;
  prefix: string;
  timeoutMs: number;
  /** Checks the finished run and returns extra fields to keep with the figure. */
  check?: (client: HubClient) => Promise<Record<string, unknown>>;
}

/** Our agents on a fresh hub drain `total` tasks: tasks/s from the first enqueue to all done. */
export function measureOurDrain(ctx: BenchContext, drain: OurDrain): Promise<number> {
  return ctx.withHub({}, async (hub) => {
    const client = new HubClient({ host: hub.host, port: hub.port, reconnect: false });
    const processes: BenchProcess[] = [];
    try {
      await client.connect();
      processes.push(await startMitteloAgents(ctx, hub, drain.label, drain.args));
      await untilAgentsConnected(client, drain.agents, processes);
      const timedFrom = monotonicMicros();
      const { seconds, enqueueSeconds } = await enqueueAndWait(client, drain.total, {
        chunk: drain.chunk,
        prefix: drain.prefix,
        timeoutMs: drain.timeoutMs,
      });
      hub.timed.push([timedFrom, monotonicMicros()]);
      const extra = (await drain.check?.(client)) ?? {};
      ctx.keep({
        hub: hub.kind,
        tasks: drain.total,
        seconds: round(seconds, 3),
        enqueue_seconds: round(enqueueSeconds, 3),
        ...extra,
      });
      return drain.total / seconds;
    } finally {
      client.close();
      await stopAll(ctx, processes);
    }
  });
}

export interface V01Drain {
  total: number;
  prefix: string;
  agents: number;
  /** Flags of each v0.1 agent (`['--backend', 'echo']`). */
  agentArgs: string[];
  pollMs: number;
  timeoutMs: number;
}

/**
 * The v0.1 baseline: prefill its hub, start its agents, and take the rate after the first ack
 * seen (their start-up and 1 s idle polling left out, which flatters v0.1).
 */
export function measureV01Drain(ctx: BenchContext, drain: V01Drain): Promise<number> {
  return ctx.withV01Hub(async (hub) => {
    const client = new HubClient({ host: hub.host, port: hub.port, reconnect: false });
    const processes: BenchProcess[] = [];
    try {
      await client.connect();
      await enqueueOneByOne(client, prompts(drain.total, `${drain.prefix}-`));
      for (let i = 0; i < drain.agents; i++) processes.push(startV01Agent(ctx, hub, drain.agentArgs));
      const watch = await watchDone(client, drain.total, {
        intervalMs: drain.pollMs,
        timeoutMs: drain.timeoutMs,
        processes,
      });
      if (watch.failed > 0) throw new Error(`${watch.failed} v0.1 tasks failed`);
      const rate = drainRate(watch, drain.total);
      ctx.keep({
        hub: hub.kind,
        tasks: drain.total,
        first_seen_done: watch.firstDone,
        seconds_after_first: round((watch.endAt - watch.firstAt) / 1000, 3),
        tasks_per_s: round(rate, 1),
      });
      return rate;
    } finally {
      client.close();
      await stopAll(ctx, processes);
    }
  });
}
