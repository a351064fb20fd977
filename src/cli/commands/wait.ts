/**
 * `mittelo wait ID...`: block until the tasks finish (or one does, with --any), then exit 0 when
 * every finished task is done and 1 when one failed, was canceled, or the time ran out.
 */
import { Command, Option } from 'commander';
import type { ClientEvent, HubClient } from '../../client/hub-client.ts';
import type { Task } from '../../protocol/model.ts';
import { TERMINAL_STATUSES } from '../../protocol/model.ts';
import {
  CliError,
  type ConnectionFlags,
  EXIT,
  jsonOption,
  parseTaskId,
  printJson,
  withConnectionOptions,
  withHub,
} from '../common.ts';
import { formatTable, outcomeOf, preview } from '../format.ts';
import { progressView } from '../progress.ts';

interface WaitFlags extends ConnectionFlags {
  timeoutS?: string;
  any?: boolean;
  json?: boolean;
}

/** The protocol's `wait` takes at most this many ids per call. */
const MAX_IDS = 10_000;
/**
 * One `wait` call lasts at most this long; longer waits are a loop of calls. Short calls also
 * notice a hub that went away without closing the connection.
 */
const WAIT_CALL_MS = 60_000;

interface WaitAnswer {
  tasks: Task[];
  timed_out: boolean;
}

async function waitUntil(
  client: HubClient,
  ids: number[],
  mode: 'all' | 'any',
  timeoutMs: number,
): Promise<WaitAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const remaining = Math.max(0, deadline - Date.now());
    const answer = await client.wait(ids, { timeout_ms: Math.ceil(Math.min(remaining, WAIT_CALL_MS)), mode });
    if (!answer.timed_out || Date.now() >= deadline) return answer;
  }
}

const isFinished = (task: Task) => TERMINAL_STATUSES.includes(task.status);

/**
 * waitUntil with progress on stderr (progress.ts: a bar on a terminal, plain lines elsewhere).
 * The counts start from a first look (`wait` with no timeout) and move with the hub's task
 * events; each answer sets them again, so a missed event only shows late, never wrong at the end.
 */
async function waitShowingProgress(
  client: HubClient,
  ids: number[],
  mode: 'all' | 'any',
  timeoutMs: number,
): Promise<WaitAnswer> {
  const wanted = new Set(ids);
  const finished = new Map<number, Task['status']>();
  const view = progressView(process.stderr, ids.length, { label: 'wait', finalLine: 'if-started' });
  const show = () => {
    const counts = { total: ids.length, done: 0, failed: 0, canceled: 0 };
    for (const status of finished.values()) {
      if (status === 'done') counts.done += 1;
      else if (status === 'failed') counts.failed += 1;
      else counts.canceled += 1;
    }
    view.update(counts);
  };
  const note = (task: Task) => {
    if (!wanted.has(task.task_id)) return;
    if (isFinished(task)) finished.set(task.task_id, task.status);
    else finished.delete(task.task_id); // retried since
  };
  const onEvent = (event: ClientEvent) => {
    if (!('task' in event) || !wanted.has(event.task.task_id)) return;
    note(event.task);
    show();
  };
  client.on('event', onEvent);
  try {
    // A hub without events (v0.1) still answers: the counts then move with each answer only.
    await client.subscribe(['task']).catch(() => {});
    const first = await client.wait(ids, { timeout_ms: 0, mode });
    for (const task of first.tasks) note(task);
    show();
    if (!first.timed_out) return first;
    const answer = await waitUntil(client, ids, mode, timeoutMs);
    for (const task of answer.tasks) note(task);
    show();
    return answer;
  } finally {
    client.off('event', onEvent);
    view.stop();
  }
}

/** Why the wait did not succeed, or null when it did. */
function failureOf(tasks: Task[], mode: 'all' | 'any', timeoutS: number | undefined): string | null {
  const finished = tasks.filter(isFinished);
  const unfinished = tasks.filter((task) => !isFinished(task));
  const unsuccessful = finished.filter((task) => task.status !== 'done');
  const complete = mode === 'all' ? unfinished.length === 0 : finished.length > 0;
  const reasons: string[] = [];
  if (unsuccessful.length > 0) {
    reasons.push(unsuccessful.map((task) => `task ${task.task_id} ${task.status}`).join(', '));
  }
  if (!complete) {
    const after = timeoutS === undefined ? '' : ` after ${timeoutS}s`;
    const which = unfinished.map((task) => task.task_id);
    const list = which.length > 20 ? `${which.slice(0, 20).join(', ')}, ...` : which.join(', ');
    reasons.push(`timed out${after}: ${which.length} task(s) not finished (${list})`);
  }
  return reasons.length > 0 ? reasons.join('; ') : null;
}

export function waitCommand(): Command {
  const command = new Command('wait')
    .description('wait for tasks to finish; exit 0 if all are done, 1 if any failed or the time ran out')
    .argument('<ids...>', 'task ids')
    .addOption(
      new Option('--timeout-s <seconds>', 'give up after this long (default: wait as long as it takes)'),
    )
    .addOption(new Option('--any', 'return as soon as one of the tasks finishes'))
    .addOption(jsonOption())
    .action(async (rawIds: string[], flags: WaitFlags) => {
      const ids = [...new Set(rawIds.map((value) => parseTaskId(value)))];
      if (ids.length > MAX_IDS)
        throw new CliError(`wait takes at most ${MAX_IDS} task ids, got ${ids.length}`);
      let timeoutS: number | undefined;
      if (flags.timeoutS !== undefined) {
        timeoutS = /^(\d+\.?\d*|\.\d+)$/.test(flags.timeoutS.trim()) ? Number(flags.timeoutS) : Number.NaN;
        if (!Number.isFinite(timeoutS)) {
          throw new CliError(`--timeout-s must be a number of seconds (0 or more), got "${flags.timeoutS}"`);
        }
      }
      const mode = flags.any ? 'any' : 'all';
      const timeoutMs = timeoutS === undefined ? Number.POSITIVE_INFINITY : timeoutS * 1000;
      // `--timeout-s 0` looks once: nothing to show progress of.
      const answer = await withHub(flags, (client) =>
        timeoutMs === 0
          ? waitUntil(client, ids, mode, timeoutMs)
          : waitShowingProgress(client, ids, mode, timeoutMs),
      );
      if (flags.json) {
        printJson(answer);
      } else {
        const rows = answer.tasks.map((task) => [
          String(task.task_id),
          task.status,
          isFinished(task) ? preview(outcomeOf(task), 500) : '(not finished)',
        ]);
        process.stdout.write(`${formatTable(['ID', 'STATUS', 'RESULT/ERROR'], rows, { flexible: [2] })}\n`);
      }
      const failure = failureOf(answer.tasks, mode, timeoutS);
      if (failure) throw new CliError(failure, EXIT.failure);
    });
  return withConnectionOptions(command);
}
