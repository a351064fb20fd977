/**
 * `mittelo run` as a function: start (or use) a hub, start the agents, enqueue a pack, follow
 * every task to the end, stop everything, and write one result line per task. The CLI adds flag
 * parsing, the progress bar and the summary table; tests and users can call this directly.
 */

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type AgentSpec, type SharedAgentOptions, Swarm, type SwarmPlan } from '../agent/swarm.ts';
import { batchesForHub } from '../client/enqueue-batches.ts';
import { HubClient } from '../client/hub-client.ts';
import { HUB_DEFAULTS, type RunningHub, startHub } from '../hub/start-hub.ts';
import type { Cap, HubEvent, NewTask, Task } from '../protocol/model.ts';
import { writeDiffFiles } from './diff-files.ts';
import { watchPauses } from './pause-watch.ts';
import {
  type BlockedRoute,
  blockedWork,
  describeBlocked,
  RemainingWork,
  routeName,
  type WorkerView,
} from './remaining-work.ts';
import { type ResultRecord, type RunSummary, resultRecord, summarize } from './results.ts';
import { mergeRecords, writeRecords } from './results-file.ts';
import { resumeTasks } from './resume.ts';
import { type BudgetOutcome, RunBudget } from './run-budget.ts';
import { applyRunCaps } from './run-caps.ts';
import type { RunRecorder } from './run-manifest.ts';
import { TaskTracker } from './task-tracker.ts';

export interface HubAddress {
  host: string;
  port: number;
  token?: string | undefined;
}

export interface JobOptions {
  tasks: NewTask[];
  /** The pack line of each task, for the results file. */
  lines: number[];
  /** A running hub to use; without it the job starts its own on a free port over `db`. */
  hub?: HubAddress | undefined;
  db: string;
  /** Agents to start (none: the hub's own agents do the work). */
  specs: AgentSpec[];
  plan?: SwarmPlan | undefined;
  agent: SharedAgentOptions;
  resultsPath: string;
  /** Give up on unfinished tasks after this long. */
  deadlineMs?: number | undefined;
  /**
   * Caps on leasing (`--limit`, `--rate`): an embedded hub starts with them; a running `hub` has
   * them for the run's duration, then what those scopes had before (run-caps.ts).
   */
  caps?: readonly Cap[] | undefined;
  /**
   * Keep waiting when no agent can take the remaining work (every one that could is not ready, or
   * has exited), instead of ending with `ended: 'stuck'`. Against a `hub` the job always waits
   * (that hub's own agents may connect at any time) and says once what has no agent.
   */
  waitForAgents?: boolean | undefined;
  /** Stop early (Ctrl-C): agents finish or release their tasks, unfinished ones stay queued. */
  signal?: AbortSignal | undefined;
  /** How long agents may finish running tasks once the job stops (default 10 s). */
  graceMs?: number;
  /**
   * The run's budget (USD, `--budget-usd`): once the known cost of its tasks that finished in this
   * session reaches it, our agents stop leasing, the tasks they run finish (bounded only by the
   * deadline and Ctrl-C, not by graceMs), and the job ends with `ended: 'budget'`; the rest stay
   * queued. A --hub's other agents are not ours to stop: the hub's own budgets govern them.
   */
  budgetUsd?: number | undefined;
  /** Told once when the budget is reached, before the running tasks have finished. */
  onBudgetReached?: (outcome: BudgetOutcome) => void;
  onProgress?: (progress: JobProgress) => void;
  /** Told of what happens to the run's tasks and the hub's agents (`mittelo run --notify`). */
  observer?: JobObserver | undefined;
  /** Agent and hub diagnostics (reconnects, backends not ready). */
  log?: (line: string) => void;
  /** Notes the run in its folder (run.json) as it goes: agents, enqueued tasks, how it ended. */
  recorder?: RunRecorder | undefined;
  /**
   * Continue the interrupted run `recorder` describes (`mittelo run --resume`): its tasks are read
   * from the hub (the finished ones count and are not run again; the unfinished ones are followed),
   * `tasks`/`lines` are the pack's tasks it had not enqueued yet, and the results are added to its
   * results file.
   */
  resume?: boolean | undefined;
  /**
   * The run folder: tasks that ran in their own worktree get their whole diff written to its
   * diffs/<task id>.diff (diff-files.ts). Absent: no diff files.
   */
  runFolder?: string | undefined;
  /** The repository the worktrees were made of, to read a cut diff whole again. */
  repo?: string | null | undefined;
}

export interface JobObserver {
  /** Each of the run's tasks once, when it reaches done, failed or canceled. */
  taskFinished?(task: Task): void;
  /** The hub's agent events (the run subscribes to them only when this is given). */
  agentEvent?(event: HubEvent): void;
}

export interface JobProgress {
  total: number;
  enqueued: number;
  done: number;
  failed: number;
  canceled: number;
  elapsedMs: number;
}

export interface JobReport {
  summary: RunSummary;
  records: ResultRecord[];
  resultsPath: string;
  hub: { host: string; port: number; embedded: boolean };
  ended: 'finished' | 'deadline' | 'interrupted' | 'stuck' | 'budget';
  /** With `ended: 'stuck'`: the work no agent could take, and why. */
  blocked: BlockedRoute[] | null;
  /** With a budget: what this session spent against it, and whether it was reached. */
  budget: BudgetOutcome | null;
}

/** How often our own agents' readiness is looked at (in memory: cheap). */
const WATCH_OWN_MS = 200;
/** How often a `--hub`'s agent list is asked for. */
const WATCH_HUB_MS = 3000;
/** The longest a timer can wait (about 24.8 days): "until the running tasks finish". */
const MAX_TIMER_MS = 2 ** 31 - 1;

export async function runJob(options: JobOptions): Promise<JobReport> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let embedded: RunningHub | null = null;
  if (!options.hub) {
    await mkdir(dirname(options.db), { recursive: true });
    embedded = await startHub({
      host: '127.0.0.1',
      port: 0,
      db: options.db,
      leaseSeconds: HUB_DEFAULTS.leaseSeconds,
      insecure: false,
      maxLineBytes: HUB_DEFAULTS.maxLineBytes,
      maxPromptBytes: HUB_DEFAULTS.maxPromptBytes,
      fsync: false,
      caps: options.caps,
      log,
    });
  }
  const address = options.hub ?? { host: '127.0.0.1', port: embedded!.tcp.port };
  // A hub given with --hub must be there now: fail fast (exit 3) rather than wait for one.
  // Later outages are different: the client below reconnects and the run carries on.
  if (options.hub) await probeHub(options.hub);

  const client = new HubClient({ ...address, client: 'mittelo-run' });
  let restoreCaps: (() => Promise<void>) | null = null;
  if (options.hub && options.caps?.length) {
    try {
      restoreCaps = await applyRunCaps(client, options.caps);
    } catch (error) {
      client.close();
      throw error;
    }
  }
  const finished = new Map<number, Task>();
  const resuming = options.resume === true && options.recorder !== undefined;
  const total = resuming ? options.recorder!.current.tasks : options.tasks.length;
  const progress: JobProgress = {
    total,
    enqueued: 0,
    done: 0,
    failed: 0,
    canceled: 0,
    elapsedMs: 0,
  };
  const report = () => {
    progress.elapsedMs = performance.now() - started;
    options.onProgress?.({ ...progress });
  };
  const remaining = new RemainingWork();
  const budget = options.budgetUsd === undefined ? null : new RunBudget(options.budgetUsd);
  const tracker = new TaskTracker(client, (task) => {
    finished.set(task.task_id, task);
    budget?.finished(task);
    remaining.finished(task);
    if (task.status === 'done') progress.done += 1;
    else if (task.status === 'failed') progress.failed += 1;
    else progress.canceled += 1;
    report();
    options.observer?.taskFinished?.(task);
  });
  const agentEvent = options.observer?.agentEvent?.bind(options.observer);
  if (agentEvent) {
    client.on('event', (event) => {
      if ('agent' in event) agentEvent(event);
    });
  }

  let swarm: Swarm | null = null;
  let swarmExits: Promise<unknown> = Promise.resolve();
  const lineOf = new Map<number, number>();
  let ended: JobReport['ended'] = 'finished';
  let blocked: BlockedRoute[] | null = null;
  let stopWatching = () => {};
  let records: ResultRecord[] = [];
  let seen: Task[] = [];
  try {
    await client.subscribe(agentEvent ? ['task', 'agent'] : ['task']);
    let tasks = options.tasks;
    let lines = options.lines;
    let open = 0;
    if (resuming) {
      // Before the agents start, so the tasks the interrupted run held are queued again first.
      const recorder = options.recorder!;
      const resumed = await resumeTasks(client, recorder.current, options, (ids, adoptedLines) =>
        recorder.enqueued(ids, adoptedLines),
      );
      for (const [id, line] of resumed.lineOf) lineOf.set(id, line);
      for (const task of resumed.finished) {
        finished.set(task.task_id, task);
        progress[task.status as 'done' | 'failed' | 'canceled'] += 1;
      }
      for (const task of resumed.open) remaining.add(task);
      tracker.add(resumed.open.map((task) => task.task_id));
      open = resumed.open.length;
      progress.enqueued = resumed.lineOf.size;
      tasks = tasks.slice(resumed.adopted);
      lines = lines.slice(resumed.adopted);
      report();
    }
    if (options.specs.length > 0) {
      if (!options.plan) throw new Error('runJob: agents given without a plan (planSwarm)');
      swarm = new Swarm(
        {
          ...options.agent,
          ...address,
          specs: options.specs,
          log: (id, message) => log(`[${id}] ${message}`),
        },
        options.plan,
      );
      swarmExits = swarm.run();
      options.recorder?.workers(new Map(swarm.agents.map((agent) => [agent.workerId, agent.backend.name])));
    }
    let next = 0;
    for (const chunk of batchesForHub(tasks)) {
      const ids = await client.enqueueMany(chunk);
      for (const task of chunk) remaining.add(task);
      const chunkLines = lines.slice(next, next + ids.length);
      for (const [k, id] of ids.entries()) lineOf.set(id, chunkLines[k] ?? next + k + 1);
      next += ids.length;
      options.recorder?.enqueued(ids, chunkLines);
      tracker.add(ids);
      progress.enqueued += ids.length;
      report();
    }
    const watch = watchAgents({
      client,
      swarm,
      agentTags: options.agent.tags ?? [],
      remaining,
      // Only our own agents can work for an embedded hub; a --hub's agents are someone else's.
      end: !options.hub && !options.waitForAgents,
      where: options.hub ? `the hub at ${address.host}:${address.port}` : null,
      log,
    });
    const pauses = watchPauses(client, log);
    stopWatching = () => {
      watch.stop();
      pauses.stop();
    };
    ended = await Promise.race([
      tracker.untilFinished(open + tasks.length).then(() => 'finished' as const),
      deadline(options.deadlineMs),
      aborted(options.signal),
      watch.stuck.then((routes) => {
        blocked = routes;
        return 'stuck' as const;
      }),
      ...(budget ? [budget.reached] : []),
    ]);
    // The task that reached the budget may have been the last one: then the pack is finished.
    if (ended === 'budget' && progress.done + progress.failed + progress.canceled >= total)
      ended = 'finished';
    if (ended === 'budget') options.onBudgetReached?.(budget!.outcome());
  } finally {
    stopWatching();
    tracker.close();
    if (ended === 'budget' && swarm) await drain(swarm, options, started);
    else await swarm?.stop(options.graceMs ?? 10_000);
    await swarmExits;
    // The agents' final acks and releases may have changed more tasks: read the open ones again,
    // so the results say where each unfinished task stands (queued, with any kind and fix).
    const unfinished = ended === 'finished' ? [] : await tracker.readOpen().catch(() => []);
    const backendOf = await workerBackends(client, swarm, options.recorder?.current.workers ?? {});
    await restoreCaps?.().catch((error: unknown) =>
      log(`mittelo run: could not put the hub's caps back: ${(error as Error).message}`),
    );
    client.close();
    await embedded?.stop();
    seen = [...finished.values(), ...unfinished];
    records = seen
      .map((task) => resultRecord(task, lineOf.get(task.task_id) ?? 0, backendOf))
      .sort((a, b) => a.line - b.line || a.task_id - b.task_id);
  }
  await (resuming ? mergeRecords : writeRecords)(options.resultsPath, records);
  if (options.runFolder) await writeDiffFiles(options.runFolder, seen, options.repo ?? null, log);
  options.recorder?.ended(ended);
  return {
    summary: summarize(records, total, performance.now() - started),
    records,
    resultsPath: options.resultsPath,
    hub: { host: address.host, port: address.port, embedded: embedded !== null },
    ended,
    blocked,
    budget: budget?.outcome() ?? null,
  };
}

/**
 * Stop our agents once the budget is reached: no new leases, tasks leased but not started go back,
 * and the running ones finish (each is bounded by its own timeout). The deadline still holds, and
 * Ctrl-C gives them the usual grace, then gives them back to the queue.
 */
async function drain(swarm: Swarm, options: JobOptions, started: number): Promise<void> {
  const left =
    options.deadlineMs === undefined
      ? MAX_TIMER_MS
      : Math.max(0, options.deadlineMs - (performance.now() - started));
  let timer: NodeJS.Timeout | undefined;
  const cut = () => {
    timer = setTimeout(() => void swarm.stop(0), options.graceMs ?? 10_000);
  };
  if (options.signal?.aborted) cut();
  else options.signal?.addEventListener('abort', cut, { once: true });
  try {
    await swarm.stop(Math.min(left, MAX_TIMER_MS));
  } finally {
    options.signal?.removeEventListener('abort', cut);
    clearTimeout(timer);
  }
}

interface WatchOptions {
  client: HubClient;
  swarm: Swarm | null;
  agentTags: readonly string[];
  remaining: RemainingWork;
  /** End the run when no agent can take the remaining work (else only say so, once per episode). */
  end: boolean;
  /** A --hub's address: its agent list counts too (else only our own agents do). */
  where: string | null;
  log: (line: string) => void;
}

/**
 * Watch whether any agent can still take the remaining work. Our own agents are read in memory
 * (an agent still starting counts as able); a --hub's other agents from its `agents` answer
 * (connected and healthy). `stuck` resolves, when `end`, once none can; otherwise the first moment
 * of each such stretch is said in one line and the run keeps waiting.
 */
function watchAgents(options: WatchOptions): { stuck: Promise<BlockedRoute[]>; stop: () => void } {
  const ours = options.swarm?.agents ?? [];
  const ourIds = new Set(ours.map((agent) => agent.workerId));
  let timer: NodeJS.Timeout | null = null;
  let checking = false;
  let noted = false;
  const workers = async (): Promise<WorkerView[] | null> => {
    const views: WorkerView[] = ours.map((agent) => ({
      backend: agent.backend.name,
      tags: options.agentTags,
      ...agent.readiness,
    }));
    if (options.where === null) return views;
    const others = await options.client.agentsOrNull().catch(() => null);
    if (others === null) return null; // a v0.1 hub (no agent list), or it is away: nothing to say
    for (const agent of others) {
      if (ourIds.has(agent.worker_id) || !agent.connected) continue;
      views.push({
        backend: agent.backend,
        tags: agent.tags,
        usable: agent.healthy,
        reason: agent.reason,
        fix: agent.fix,
      });
    }
    return views;
  };
  const stuck = new Promise<BlockedRoute[]>((resolve) => {
    const check = async () => {
      if (checking) return;
      checking = true;
      try {
        const views = await workers();
        const blocked = views === null ? null : blockedWork(options.remaining.routes(), views);
        if (blocked === null) {
          noted = false;
          return;
        }
        if (options.end) {
          resolve(blocked);
          return;
        }
        if (noted) return;
        noted = true;
        const names = blocked.map((route) => `${routeName(route)}: ${route.tasks}`).join(', ');
        const waiting = options.where
          ? `waiting for agents to connect to ${options.where}`
          : 'waiting for them (--wait-for-agents)';
        options.log(
          `mittelo run: no agent can take the ${options.remaining.total} unfinished task(s) now (${names}); ${waiting}; --deadline-s N bounds the wait`,
        );
        for (const line of describeBlocked(blocked)) options.log(line);
      } finally {
        checking = false;
      }
    };
    timer = setInterval(() => void check(), options.where ? WATCH_HUB_MS : WATCH_OWN_MS);
    void check();
  });
  return {
    stuck,
    stop: () => {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}

async function probeHub(address: HubAddress): Promise<void> {
  const probe = new HubClient({ ...address, reconnect: false, client: 'mittelo-run' });
  try {
    await probe.connect();
  } finally {
    probe.close();
  }
}

/**
 * worker id -> backend, from our own agents (this session's, and from run.json earlier sessions')
 * and whatever the hub knows of others.
 */
async function workerBackends(
  client: HubClient,
  swarm: Swarm | null,
  earlier: Readonly<Record<string, string>>,
): Promise<(workerId: string) => string | null> {
  const known = new Map<string, string>(Object.entries(earlier));
  try {
    for (const agent of await client.agents()) if (agent.backend) known.set(agent.worker_id, agent.backend);
  } catch {
    // A v0.1 hub (or one that went away) has no agent list; our own agents are enough.
  }
  for (const agent of swarm?.agents ?? []) known.set(agent.workerId, agent.backend.name);
  return (workerId) => known.get(workerId) ?? null;
}

function deadline(ms: number | undefined): Promise<'deadline'> {
  if (ms === undefined) return new Promise(() => {});
  return new Promise((resolve) => setTimeout(() => resolve('deadline'), ms).unref());
}

function aborted(signal: AbortSignal | undefined): Promise<'interrupted'> {
  if (!signal) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve('interrupted');
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve('interrupted'), { once: true }),
  );
}
