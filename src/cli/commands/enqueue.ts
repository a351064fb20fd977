/**
 * `mittelo enqueue`: add tasks from --prompt, a whole --file, or a --jsonl file of one task per
 * line. Every task is checked before the first is sent; then they go in `enqueue_many` calls
 * that each stay well inside the hub's request limits.
 */
import { Command, Option } from 'commander';
import { batchesForHub } from '../../client/enqueue-batches.ts';
import type { HubClient } from '../../client/hub-client.ts';
import { isMitteloError, MitteloError } from '../../errors.ts';
import type { NewTask } from '../../protocol/model.ts';
import {
  CliError,
  type ConnectionFlags,
  jsonOption,
  printJson,
  repeatable,
  withConnectionOptions,
  withHub,
} from '../common.ts';
import { parseDuration } from '../duration.ts';
import { noAgentNote } from '../idle-routes.ts';
import {
  checkTaskField,
  parseJsonlTasks,
  readInput,
  readOutputSchema,
  singleTask,
  type TaskDefaults,
  type TaskField,
  usdAmount,
} from '../read-tasks.ts';
import { parseMoment } from '../time-flags.ts';

interface EnqueueFlags extends ConnectionFlags {
  prompt?: string;
  file?: string;
  jsonl?: string;
  backend?: string;
  tag?: string[];
  priority?: string;
  maxAttempts?: string;
  timeoutS?: string;
  delay?: string;
  notBefore?: string;
  maxCostUsd?: string;
  outputSchema?: string;
  resumeSession?: boolean;
  workspace?: string;
  baseRef?: string;
  permissions?: string;
  json?: boolean;
}

const INTEGER = /^-?\d+$/;
const NUMBER = /^(\d+\.?\d*|\.\d+)$/;

/** The task fields set by flags, each checked with the same rules as a --jsonl line. */
async function defaultsFromFlags(flags: EnqueueFlags): Promise<TaskDefaults> {
  const defaults: TaskDefaults = {};
  const set = (field: TaskField, flag: string, raw: string | undefined, value: unknown) => {
    if (raw === undefined) return;
    const problem = checkTaskField(field, value);
    if (problem) throw new CliError(`${flag} ${problem.replace(/, got .*$/, '')}, got "${raw}"`);
    Object.assign(defaults, { [field]: value });
  };
  const integer = (raw: string | undefined) =>
    raw !== undefined && INTEGER.test(raw.trim()) ? Number(raw) : Number.NaN;
  const number = (raw: string | undefined) =>
    raw !== undefined && NUMBER.test(raw.trim()) ? Number(raw) : Number.NaN;
  set('backend', '--backend', flags.backend, flags.backend);
  if (flags.tag !== undefined) {
    for (const tag of flags.tag) {
      if (checkTaskField('tags', [tag])) {
        throw new CliError(`--tag must be a name of 1-64 letters, digits and _ . : -, got "${tag}"`);
      }
    }
    const tags = [...new Set(flags.tag)];
    const problem = checkTaskField('tags', tags);
    if (problem) throw new CliError(`--tag: a task ${problem}`);
    defaults.tags = tags;
  }
  set('priority', '--priority', flags.priority, integer(flags.priority));
  set('max_attempts', '--max-attempts', flags.maxAttempts, integer(flags.maxAttempts));
  set('timeout_s', '--timeout-s', flags.timeoutS, number(flags.timeoutS));
  set('max_cost_usd', '--max-cost-usd', flags.maxCostUsd, flags.maxCostUsd && usdAmount(flags.maxCostUsd));
  if (flags.outputSchema !== undefined) defaults.output_schema = await readOutputSchema(flags.outputSchema);
  if (flags.resumeSession) defaults.resume = true;
  set('workspace', '--workspace', flags.workspace, flags.workspace);
  set('base_ref', '--base-ref', flags.baseRef, flags.baseRef);
  set('permissions', '--permissions', flags.permissions, flags.permissions);
  if (flags.delay !== undefined && flags.notBefore !== undefined) {
    throw new CliError('use --delay (from now) or --not-before (a time), not both');
  }
  if (flags.delay !== undefined)
    set('delay_s', '--delay', flags.delay, parseDuration(flags.delay, '--delay'));
  if (flags.notBefore !== undefined) {
    const at = parseMoment(flags.notBefore, '--not-before', Date.now() / 1000);
    set('not_before', '--not-before', flags.notBefore, at);
  }
  return defaults;
}

/** What to send, and where each task came from (for messages about one of them). */
interface Input {
  tasks: NewTask[];
  /** `file:line` of task `index`, or null when the input is a single prompt. */
  origin: (index: number) => string | null;
}

/** The tasks to send, read and checked; nothing is sent when anything is wrong. */
async function readTasks(flags: EnqueueFlags): Promise<Input> {
  const sources = [
    flags.prompt !== undefined && '--prompt',
    flags.file !== undefined && '--file',
    flags.jsonl !== undefined && '--jsonl',
  ].filter(Boolean);
  if (sources.length !== 1) {
    throw new CliError(
      sources.length === 0
        ? 'say what to enqueue: --prompt TEXT, --file PATH or --jsonl PATH (- reads stdin)'
        : `use one of --prompt, --file, --jsonl, not ${sources.join(' and ')}`,
    );
  }
  const defaults = await defaultsFromFlags(flags);
  const single = (task: NewTask): Input => ({ tasks: [task], origin: () => null });
  if (flags.prompt !== undefined) return single(singleTask(flags.prompt, '--prompt', defaults));
  if (flags.file !== undefined) {
    const text = await readInput(flags.file, '--file');
    return single(singleTask(text, `--file ${flags.file === '-' ? '(stdin)' : flags.file}`, defaults));
  }
  const path = flags.jsonl!;
  const source = path === '-' ? 'stdin' : path;
  const { tasks, lines, ignored } = parseJsonlTasks(await readInput(path, '--jsonl'), source, defaults);
  if (ignored.length > 0) {
    const [first] = ignored;
    process.stderr.write(
      `mittelo: warning: ${ignored.length} line(s) have their own metadata and other unknown fields, ` +
        `which were not kept (first: ${source}:${first!.line}: ${first!.fields.join(', ')})\n`,
    );
  }
  return { tasks, origin: (index) => `${source}:${lines[index]}` };
}

/**
 * The hub names a task of a batch by its index (`tasks[3].prompt is ...`); name its line instead.
 * A batch of one task gets no index from the hub, so that one is named too.
 */
function locateRefusal(error: unknown, batchStart: number, batchSize: number, input: Input): unknown {
  if (!isMitteloError(error)) return error;
  const indexed = /tasks[[.](\d+)]?\.?/.exec(error.message);
  const index = indexed ? Number(indexed[1]) : batchSize === 1 ? 0 : null;
  const origin = index === null ? null : input.origin(batchStart + index);
  if (origin === null) return error;
  const message = indexed ? error.message.replace(indexed[0], '') : error.message;
  return new MitteloError(error.code, `${origin}: ${message}`, error.details);
}

/**
 * Tasks that say where they run or what they may do go only to a hub that keeps it (feature
 * `workspaces`): an older one would drop the fields and run them in the shared place.
 */
async function checkWorkspaces(client: HubClient, tasks: readonly NewTask[]): Promise<void> {
  const asks = tasks.some(
    (task) => task.workspace !== undefined || task.base_ref !== undefined || task.permissions !== undefined,
  );
  if (!asks) return;
  await client.connect();
  if (client.hasFeature('workspaces')) return;
  throw new CliError(
    'the hub predates workspaces (its hello lists no `workspaces` feature): upgrade it, or enqueue without workspace, base_ref and permissions; nothing was enqueued',
  );
}

async function send(client: HubClient, input: Input, json: boolean): Promise<number[]> {
  await checkWorkspaces(client, input.tasks);
  const ids: number[] = [];
  for (const batch of batchesForHub(input.tasks)) {
    let batchIds: number[];
    try {
      batchIds = await client.enqueueMany(batch);
    } catch (error) {
      // Only the hub can stop us half way (everything was checked before sending): say what is in.
      if (ids.length > 0) {
        if (json) printJson({ task_ids: ids });
        process.stderr.write(
          `mittelo: ${ids.length} of ${input.tasks.length} tasks were enqueued (ids printed) before this failure:\n`,
        );
      }
      throw locateRefusal(error, ids.length, batch.length, input);
    }
    ids.push(...batchIds);
    if (!json && batchIds.length > 0) process.stdout.write(`${batchIds.join('\n')}\n`);
  }
  return ids;
}

/**
 * After the ids are out: for each backend the tasks are routed to, one line on stderr when no
 * healthy agent of it is connected (the tasks wait in the queue until one is). Only a note: a hub
 * without an agent list (v0.1), or any trouble asking, leaves the output as it was.
 */
async function noteMissingAgents(client: HubClient, tasks: readonly NewTask[]): Promise<void> {
  const backends = new Set<string>();
  for (const task of tasks) if (typeof task.backend === 'string') backends.add(task.backend);
  if (backends.size === 0) return;
  let agents: Awaited<ReturnType<HubClient['agentsOrNull']>>;
  try {
    agents = await client.agentsOrNull();
  } catch {
    return;
  }
  if (agents === null) return;
  const now = Date.now() / 1000;
  for (const backend of backends) {
    const note = noAgentNote(backend, agents, now);
    if (note) process.stderr.write(`mittelo: note: ${note}\n`);
  }
}

export function enqueueCommand(): Command {
  const command = new Command('enqueue')
    .description('add tasks to the queue; prints their ids, one per line')
    .addOption(new Option('--prompt <text>', 'one task with this prompt'))
    .addOption(new Option('--file <path>', 'one task whose prompt is the whole file (- = stdin)'))
    .addOption(
      new Option('--jsonl <path>', 'one task per line: {"prompt": "...", "backend": ..., ...} (- = stdin)'),
    )
    .addOption(new Option('--backend <name>', 'only agents running this backend take the task(s)'))
    .addOption(
      new Option('--tag <tag>', 'a capability the agent must have (repeatable)').argParser(repeatable),
    )
    .addOption(new Option('--priority <n>', 'higher is leased first (default 0)'))
    .addOption(new Option('--max-attempts <n>', 'attempts before the task is failed for good (1-100)'))
    .addOption(new Option('--timeout-s <seconds>', 'how long an agent should let the backend run'))
    .addOption(new Option('--max-cost-usd <usd>', 'the most each task may spend (Claude Code enforces it)'))
    .addOption(
      new Option(
        '--output-schema <file>',
        'a JSON Schema file the answers must meet, for tasks whose line sets no output_schema',
      ),
    )
    .addOption(
      new Option(
        '--resume-session',
        "a retried or requeued run continues the last run's CLI session (resume: true), for tasks whose line sets no resume",
      ),
    )
    .addOption(
      new Option(
        '--workspace <mode>',
        "where the backend runs, for tasks whose line sets no workspace: shared or worktree (a git worktree of the agent's --repo)",
      ),
    )
    .addOption(
      new Option(
        '--base-ref <ref>',
        "the ref a worktree task's branch starts from, for tasks whose line sets no base_ref (default: the agent's --base)",
      ),
    )
    .addOption(
      new Option(
        '--permissions <level>',
        'what the backend may do, for tasks whose line sets no permissions: read, edit or full (default: read shared, edit in a worktree)',
      ),
    )
    .addOption(
      new Option(
        '--delay <duration>',
        'not leased before this long from now (30s, 5m, 2h, 1d); shown as scheduled',
      ),
    )
    .addOption(
      new Option(
        '--not-before <time>',
        'not leased before this time (Unix seconds, 2026-03-01T09:00, or 18:30); shown as scheduled',
      ),
    )
    .addOption(jsonOption())
    .action(async (flags: EnqueueFlags) => {
      const input = await readTasks(flags);
      await withHub(flags, async (client) => {
        const ids = await send(client, input, Boolean(flags.json));
        if (flags.json) printJson({ task_ids: ids });
        await noteMissingAgents(client, input.tasks);
      });
    });
  return withConnectionOptions(command);
}
