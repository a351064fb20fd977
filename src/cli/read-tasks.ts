/**
 * What `mittelo enqueue` sends, read from where the user keeps it: a whole file as one prompt
 * (`--file`), or one task per line (`--jsonl`), `-` meaning stdin. Everything is checked before
 * anything is sent, so a bad line enqueues nothing from its file, and the error names the file
 * and line so it can be fixed in place.
 */
import { readFile } from 'node:fs/promises';
import { compileAnswerSchema } from '../answers/answer-schema.ts';
import { type NewTask, PERMISSION_LEVELS, WORKSPACE_MODES } from '../protocol/model.ts';
import { describeIssues, MAX_AHEAD_S, newTaskSchema } from '../protocol/schemas.ts';
import { CliError } from './common.ts';

/** The fields a task line may set; anything else on a line is the user's own data. */
export const TASK_FIELDS = [
  'prompt',
  'backend',
  'tags',
  'priority',
  'max_attempts',
  'timeout_s',
  'metadata',
  'not_before',
  'delay_s',
  'max_cost_usd',
  'output_schema',
  'resume',
  'workspace',
  'base_ref',
  'permissions',
] as const;
export type TaskField = (typeof TASK_FIELDS)[number];

// The same limits as newTaskSchema (src/protocol/schemas.ts), restated so that a wrong value
// gets a sentence a person can act on instead of a schema dump.
const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const NAME_RULE = '1-64 letters, digits and _ . : -';
const MAX_TAGS = 32;
const PRIORITY_LIMIT = 1_000_000;
const MAX_ATTEMPTS_LIMIT = 100;
const TIMEOUT_LIMIT_S = 7 * 24 * 3600;
const MAX_COST_LIMIT_USD = 1_000_000;
/** Unix times past this are milliseconds, not seconds. */
const MILLISECONDS_FROM = 1e11;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `5`, `0.25`, `$5` or `$ 5` as US dollars; NaN for anything else (checkTaskField says the bounds). */
export function usdAmount(text: string): number {
  const match = /^\s*\$?\s*(\d+(?:\.\d*)?|\.\d+)\s*$/.exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/**
 * Why `value` is not acceptable for task field `field`, as a phrase that follows the field's
 * name ("must be a string"), or null when it is fine. null and absent mean "not set" for every
 * field but prompt, as on the wire.
 */
export function checkTaskField(field: TaskField, value: unknown): string | null {
  if (field === 'prompt') {
    if (value === undefined || value === null) return 'is missing: every task needs {"prompt": "..."}';
    if (typeof value !== 'string') return 'must be a string';
    return value.trim() === '' ? 'must not be empty' : null;
  }
  if (value === undefined || value === null) return null;
  switch (field) {
    case 'backend':
      if (typeof value !== 'string') return 'must be a string';
      return NAME.test(value) ? null : `must be a name of ${NAME_RULE}, got "${value}"`;
    case 'tags': {
      if (!Array.isArray(value)) return 'must be an array of strings';
      if (value.length > MAX_TAGS) return `may hold at most ${MAX_TAGS} tags, got ${value.length}`;
      const bad = value.find((tag) => typeof tag !== 'string' || !NAME.test(tag));
      if (bad === undefined) return null;
      return typeof bad === 'string'
        ? `must be names of ${NAME_RULE}, got "${bad}"`
        : 'must be an array of strings';
    }
    case 'priority':
      return Number.isInteger(value) && Math.abs(value as number) <= PRIORITY_LIMIT
        ? null
        : `must be an integer from -${PRIORITY_LIMIT} to ${PRIORITY_LIMIT}`;
    case 'max_attempts':
      return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_ATTEMPTS_LIMIT
        ? null
        : `must be an integer from 1 to ${MAX_ATTEMPTS_LIMIT}`;
    case 'timeout_s':
      return typeof value === 'number' && value > 0 && value <= TIMEOUT_LIMIT_S
        ? null
        : `must be a number of seconds above 0 and at most ${TIMEOUT_LIMIT_S} (7 days)`;
    case 'metadata':
      return isPlainObject(value) ? null : 'must be a JSON object';
    case 'not_before':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
        return 'must be a Unix time in seconds (a number, 0 or more)';
      if (value >= MILLISECONDS_FROM)
        return `looks like milliseconds: give Unix seconds (${Math.floor(value / 1000)})`;
      return value <= Date.now() / 1000 + MAX_AHEAD_S ? null : 'is more than a year from now';
    case 'delay_s':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_AHEAD_S
        ? null
        : `must be a number of seconds from 0 to ${MAX_AHEAD_S} (a year)`;
    case 'max_cost_usd':
      return typeof value === 'number' && Number.isFinite(value) && value > 0 && value <= MAX_COST_LIMIT_USD
        ? null
        : 'must be an amount of US dollars above 0 and at most 1,000,000 (for example 0.5)';
    case 'output_schema': {
      if (!isPlainObject(value)) return 'must be a JSON Schema (a JSON object)';
      // Compiled here, the same way the hub and the agent do, so a bad schema is named by line.
      const compiled = compileAnswerSchema(value);
      return compiled.ok ? null : compiled.error.replace(/^output_schema /, '');
    }
    case 'resume':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'workspace':
      return (WORKSPACE_MODES as readonly unknown[]).includes(value)
        ? null
        : `must be "shared" or "worktree", got ${JSON.stringify(value)}`;
    case 'base_ref': {
      if (typeof value !== 'string') return 'must be a string (a branch, a tag or a commit)';
      const checked = newTaskSchema.shape.base_ref.safeParse(value);
      return checked.success
        ? null
        : `${(checked.error.issues[0]?.message ?? 'is not a git ref').replace(/^base_ref /, '')}, got "${value}"`;
    }
    case 'permissions':
      return (PERMISSION_LEVELS as readonly unknown[]).includes(value)
        ? null
        : `must be "read", "edit" or "full", got ${JSON.stringify(value)}`;
  }
}

/** Turn one task's fields into a NewTask, or say what is wrong with it. */
function toNewTask(fields: Record<string, unknown>): NewTask | string {
  for (const field of TASK_FIELDS) {
    const problem = checkTaskField(field, fields[field]);
    if (problem) return `${field} ${problem}`;
  }
  // The hub's own schema has the last word, in case it is stricter than the checks above.
  const parsed = newTaskSchema.safeParse(fields);
  if (!parsed.success) return describeIssues(parsed.error);
  const task: NewTask = { prompt: fields.prompt as string };
  for (const field of TASK_FIELDS) {
    const value = fields[field];
    if (field !== 'prompt' && value !== undefined && value !== null) Object.assign(task, { [field]: value });
  }
  return task;
}

/** Values that --backend, --tag, --priority, ... give every task that does not set its own. */
export type TaskDefaults = Omit<NewTask, 'prompt'>;

/** When a task may first run: a line that says either leaves both defaults alone. */
const SCHEDULE_FIELDS: readonly string[] = ['not_before', 'delay_s'];

function withDefaults(task: NewTask, defaults: TaskDefaults): NewTask {
  const merged: NewTask = { ...task };
  const ownSchedule = task.not_before !== undefined || task.delay_s !== undefined;
  for (const [field, value] of Object.entries(defaults)) {
    if (ownSchedule && SCHEDULE_FIELDS.includes(field)) continue;
    if (value !== undefined && (merged as unknown as Record<string, unknown>)[field] === undefined) {
      Object.assign(merged, { [field]: value });
    }
  }
  return merged;
}

/** A line whose extra fields could not be kept, because it brought its own metadata. */
export interface IgnoredFields {
  line: number;
  fields: string[];
}

export interface ReadTasks {
  tasks: NewTask[];
  /** The line each task came from (1-based), so a refusal by the hub can name it too. */
  lines: number[];
  ignored: IgnoredFields[];
}

/** How many further bad lines an error lists by number. */
const MORE_LINES_SHOWN = 5;

/**
 * Parse JSON Lines text into tasks. `source` names the input in messages (`tasks.jsonl:7: ...`).
 * Empty lines are skipped. Fields other than the task fields are kept as the task's metadata when
 * the line has no metadata of its own (so nothing the user wrote is lost), else ignored and
 * reported in `ignored`. Throws a CliError (exit 2) naming the first bad line, and how many more
 * there are, so a file is fixed in one pass.
 */
export function parseJsonlTasks(text: string, source: string, defaults: TaskDefaults = {}): ReadTasks {
  const tasks: NewTask[] = [];
  const taskLines: number[] = [];
  const ignored: IgnoredFields[] = [];
  const bad: Array<{ line: number; problem: string }> = [];
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const lineNumber = index + 1;
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (index === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    if (line.trim() === '') continue;
    const task = parseLine(line, lineNumber, ignored);
    if (typeof task === 'string') bad.push({ line: lineNumber, problem: task });
    else {
      tasks.push(withDefaults(task, defaults));
      taskLines.push(lineNumber);
    }
  }
  if (bad.length > 0) {
    const [first, ...rest] = bad;
    let message = `${source}:${first!.line}: ${first!.problem}`;
    if (rest.length > 0) {
      const shown = rest.slice(0, MORE_LINES_SHOWN).map((b) => b.line);
      const more = rest.length > MORE_LINES_SHOWN ? ', ...' : '';
      message += ` (${rest.length} more bad line${rest.length === 1 ? '' : 's'}: ${shown.join(', ')}${more})`;
    }
    throw new CliError(`${message}; nothing was enqueued`);
  }
  if (tasks.length === 0) throw new CliError(`${source} has no tasks: every line is empty`);
  return { tasks, lines: taskLines, ignored };
}

function parseLine(line: string, lineNumber: number, ignored: IgnoredFields[]): NewTask | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`;
  }
  if (!isPlainObject(value)) {
    const kind = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
    return `each line must be a JSON object like {"prompt": "..."}, got ${kind}`;
  }
  const extras = Object.keys(value).filter((key) => !(TASK_FIELDS as readonly string[]).includes(key));
  const fields: Record<string, unknown> = { ...value };
  if (extras.length > 0) {
    if (value.metadata === undefined || value.metadata === null) {
      fields.metadata = Object.fromEntries(extras.map((key) => [key, value[key]]));
    } else {
      ignored.push({ line: lineNumber, fields: extras });
    }
  }
  return toNewTask(fields);
}

/** One task from a prompt (--prompt, or a whole --file) and the flags. */
export function singleTask(prompt: string, source: string, defaults: TaskDefaults = {}): NewTask {
  const problem = checkTaskField('prompt', prompt);
  if (problem) throw new CliError(`${source} ${problem === 'must not be empty' ? 'is empty' : problem}`);
  const task = toNewTask({ ...defaults, prompt });
  if (typeof task === 'string') throw new CliError(`${source}: ${task}`);
  return task;
}

/**
 * `--output-schema FILE`: the JSON Schema in the file, parsed and compiled, for every task whose
 * line sets no output_schema. Anything wrong is one line naming the flag and the file (exit 2).
 */
export async function readOutputSchema(
  path: string,
  flag = '--output-schema',
): Promise<Record<string, unknown>> {
  const text = await readInput(path, flag);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${flag} ${path}: not valid JSON (${(error as Error).message})`);
  }
  const problem = checkTaskField('output_schema', value);
  if (problem) throw new CliError(`${flag} ${path} ${problem}`);
  return value as Record<string, unknown>;
}

/** The text of `path`, or of stdin for `-`. A file that cannot be read is a usage error (exit 2). */
export async function readInput(path: string, flag: string): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a folder'
          : code === 'EACCES'
            ? 'permission denied'
            : (error as Error).message;
    throw new CliError(`cannot read ${flag} ${path}: ${why}`);
  }
}
