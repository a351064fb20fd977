/**
 * `mittelo run --resume`: where an interrupted run's tasks stand, read from its (embedded) hub
 * through the protocol. The finished ones are kept as they are (never run again); the unfinished
 * ones are followed to the end; those the interrupted run's agents held (it was killed, so its
 * leases would only run out in a minute) go back to the queue at once; and the tasks the run
 * enqueued just before it was killed, before it could note them in run.json, are found by their
 * prompts so they are not enqueued twice.
 */
import type { HubClient } from '../client/hub-client.ts';
import { isMitteloError } from '../errors.ts';
import { type NewTask, type Task, TERMINAL_STATUSES } from '../protocol/model.ts';
import { type RunManifest, taskLines } from './run-manifest.ts';

/** The protocol's `wait` takes at most this many ids per call. */
const WAIT_CHUNK = 10_000;

export interface ResumedTasks {
  /** Tasks that finished in an earlier session. */
  finished: Task[];
  /** Tasks still to finish (queued now; the ones that were leased were given back). */
  open: Task[];
  /** task id -> pack line, of every task the run has enqueued (adopted ones included). */
  lineOf: Map<number, number>;
  /** Of `rest`, how many were found already enqueued (adopted): enqueue only the ones after. */
  adopted: number;
}

/**
 * Read the run's tasks. `rest` are the pack's tasks not in the manifest (with their lines), in
 * pack order; `adopt` is told of the ones found enqueued anyway.
 */
export async function resumeTasks(
  client: HubClient,
  manifest: RunManifest,
  rest: { tasks: readonly NewTask[]; lines: readonly number[] },
  adopt: (ids: number[], lines: number[]) => void,
): Promise<ResumedTasks> {
  const lineOf = taskLines(manifest);
  const known = await readTasks(client, [...lineOf.keys()]);
  const found = await enqueuedUnrecorded(client, manifest, [...lineOf.keys()], rest.tasks);
  if (found.length > 0) {
    const lines = rest.lines.slice(0, found.length) as number[];
    for (const [k, task] of found.entries()) lineOf.set(task.task_id, lines[k]!);
    adopt(
      found.map((task) => task.task_id),
      lines,
    );
  }
  const finished: Task[] = [];
  const open: Task[] = [];
  for (const task of [...known, ...found]) {
    if (TERMINAL_STATUSES.includes(task.status)) finished.push(task);
    else open.push(task);
  }
  for (const [index, task] of open.entries()) {
    if (task.status !== 'leased') continue;
    try {
      // No token: the hub believes a claim without one while the task is leased (v0.1 rules).
      // The agents that held these died with the interrupted run.
      await client.release({ task_id: task.task_id, error: 'the run holding it was interrupted; resumed' });
      open[index] = { ...task, status: 'queued' };
    } catch (error) {
      // Its lease ran out and another lease took it, or it finished: it is followed either way.
      if (!isMitteloError(error) || error.code !== 'conflict') throw error;
    }
  }
  return { finished, open, lineOf, adopted: found.length };
}

/** The tasks with these ids, skipping ids the hub no longer has. */
async function readTasks(client: HubClient, ids: number[]): Promise<Task[]> {
  const tasks: Task[] = [];
  for (let start = 0; start < ids.length; start += WAIT_CHUNK) {
    let chunk = ids.slice(start, start + WAIT_CHUNK);
    while (chunk.length > 0) {
      try {
        tasks.push(...(await client.wait(chunk, { timeout_ms: 0 })).tasks);
        break;
      } catch (error) {
        const missing = isMitteloError(error) ? (error.details?.missing as number[] | undefined) : undefined;
        if (!missing?.length) throw error;
        const gone = new Set(missing);
        chunk = chunk.filter((id) => !gone.has(id));
      }
    }
  }
  return tasks;
}

/**
 * Tasks of this run the manifest does not list: a kill between an enqueue's answer and the write
 * of run.json leaves them in the database only. They follow the last listed id, were created
 * during the run, and have the next pack tasks' prompts, in order.
 */
async function enqueuedUnrecorded(
  client: HubClient,
  manifest: RunManifest,
  listed: readonly number[],
  rest: readonly NewTask[],
): Promise<Task[]> {
  if (rest.length === 0) return [];
  const after = listed.length > 0 ? Math.max(...listed) : 0;
  const startedAt = Date.parse(manifest.started_at) / 1000;
  const newest = (await client.list({ limit: 1 })).tasks[0];
  if (!newest || newest.task_id <= after) return [];
  const found: Task[] = [];
  for await (const page of client.listPages({ limit: 0 })) {
    for (const task of page.tasks) if (task.task_id > after) found.push(task);
    if (page.tasks.some((task) => task.task_id <= after)) break;
  }
  found.sort((a, b) => a.task_id - b.task_id);
  const adopted: Task[] = [];
  for (const [k, task] of found.entries()) {
    if (k >= rest.length || task.prompt !== rest[k]!.prompt || task.created_at < startedAt - 1) break;
    adopted.push(task);
  }
  return adopted;
}
