/**
 * `mittelo logs ID [-f]`: a task's live output as the hub keeps it (its newest lines, `output_tail`),
 * one `HH:MM:SS kind text` line each; with -f it follows the task (`subscribe` with output, and the
 * tail read again after a reconnect) until it ends, then prints how it ended and exits as `mittelo
 * wait` does: 0 done, 1 failed or canceled.
 */
import { Command, Option } from 'commander';
import { HubClient } from '../../client/hub-client.ts';
import type { OutputLine, OutputTail, Task } from '../../protocol/model.ts';
import { TERMINAL_STATUSES } from '../../protocol/model.ts';
import {
  CliError,
  type ConnectionFlags,
  connectClient,
  describeHubs,
  EXIT,
  hubAddressesFrom,
  hubClientOptions,
  jsonOption,
  parseTaskId,
  printJson,
  refusedToken,
  withConnectionOptions,
} from '../common.ts';
import { outcomeOf, preview } from '../format.ts';

interface LogsFlags extends ConnectionFlags {
  follow?: boolean;
  json?: boolean;
}

const LIVE_OUTPUT = 'live_output';
/** Between reconnect attempts while following a hub that went away. */
const RECONNECT_PAUSE_MS = 1000;

/** `14:03:07`: a line's time, local, as the dashboards show it. */
const clock = (unixSeconds: number) => new Date(unixSeconds * 1000).toTimeString().slice(0, 8);

function requireLiveOutput(client: HubClient, flags: ConnectionFlags): void {
  if (client.hasFeature(LIVE_OUTPUT)) return;
  throw new CliError(
    `the hub at ${describeHubs(hubAddressesFrom(flags))} is too old for live output (no live_output feature): upgrade it to follow tasks' output`,
    EXIT.refused,
  );
}

/** Prints lines in seq order, each once, and says where some were not kept. */
class LinePrinter {
  lastSeq = 0;
  private readonly json: boolean;

  constructor(json: boolean) {
    this.json = json;
  }

  lost(count: number): void {
    if (count <= 0) return;
    if (this.json) process.stdout.write(`${JSON.stringify({ lost: count })}\n`);
    else process.stdout.write(`… ${count} earlier line${count === 1 ? '' : 's'} not kept\n`);
  }

  print(lines: readonly OutputLine[]): void {
    let text = '';
    for (const line of lines) {
      if (line.seq <= this.lastSeq) continue;
      this.lastSeq = line.seq;
      text += this.json
        ? `${JSON.stringify(line)}\n`
        : `${clock(line.at)} ${line.kind} ${line.text.replace(/\r?\n/g, ' ')}\n`;
    }
    if (text) process.stdout.write(text);
  }
}

/** Every kept line after `afterSeq`, page after page. */
async function readTail(client: HubClient, taskId: number, afterSeq: number): Promise<OutputTail> {
  const first = await client.outputTail(taskId, afterSeq);
  const lines = [...first.lines];
  let answer = first;
  while (answer.lines.length > 0 && lines.at(-1)!.seq < answer.last_seq) {
    answer = await client.outputTail(taskId, lines.at(-1)!.seq);
    lines.push(...answer.lines);
  }
  return { ...answer, lines };
}

async function printOnce(taskId: number, flags: LogsFlags): Promise<void> {
  const client = await connectClient(flags);
  try {
    requireLiveOutput(client, flags);
    const tail = await readTail(client, taskId, 0);
    if (flags.json) {
      printJson(tail);
      return;
    }
    const printer = new LinePrinter(false);
    printer.lost(tail.lost);
    printer.print(tail.lines);
  } finally {
    client.close();
  }
}

/**
 * Follow a task until it ends. Events are held while the tail is being read (the two overlap),
 * and a gap in the seqs of an event (a missed one) reads the tail again.
 */
async function follow(taskId: number, flags: LogsFlags): Promise<Task> {
  // One round of tries per connect (fail fast at the start, like every command); after a drop
  // the loop below tries again every second.
  const client = new HubClient({
    ...hubClientOptions(flags),
    reconnect: true,
    connectTimeoutMs: 1,
    client: 'mittelo-cli',
  });
  const printer = new LinePrinter(flags.json === true);
  let finish: (task: Task) => void = () => {};
  let fail: (error: unknown) => void = () => {};
  const ended = new Promise<Task>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  let reading: Promise<void> | null = null;
  let held: OutputLine[][] = [];
  let endedTask: Task | null = null;
  let closed = false;

  /** The tail after the last line printed, then the events held meanwhile. */
  const catchUp = (): Promise<void> => {
    reading ??= (async () => {
      try {
        const tail = await readTail(client, taskId, printer.lastSeq);
        // A hub that started again keeps nothing of before: its seqs start over.
        if (tail.last_seq < printer.lastSeq) printer.lastSeq = 0;
        const firstSeq = tail.lines[0]?.seq;
        if (firstSeq !== undefined && firstSeq > printer.lastSeq + 1) {
          printer.lost(printer.lastSeq === 0 ? tail.lost : firstSeq - printer.lastSeq - 1);
        }
        printer.print(tail.lines);
      } finally {
        reading = null;
      }
      const events = held;
      held = [];
      for (const lines of events) onLines(lines);
    })();
    return reading;
  };
  const onLines = (lines: OutputLine[]) => {
    if (reading || lines.length === 0) {
      held.push(lines);
      return;
    }
    if (lines[0]!.seq > printer.lastSeq + 1) {
      held.push(lines);
      void catchUp().catch(() => {});
      return;
    }
    printer.print(lines);
  };
  /** The task ended: the lines it printed last, then the end. */
  const end = (task: Task) => {
    if (endedTask) return;
    endedTask = task;
    void (reading ?? Promise.resolve())
      .then(() => catchUp())
      .catch(() => {})
      .then(() => finish(task));
  };
  const look = async () => {
    await catchUp();
    const task = await client.get(taskId);
    if (TERMINAL_STATUSES.includes(task.status)) end(task);
  };

  client.on('event', (event) => {
    if (event.event === 'task.output' && event.task_id === taskId) onLines(event.lines);
    else if (
      'task' in event &&
      event.task.task_id === taskId &&
      TERMINAL_STATUSES.includes(event.task.status)
    )
      end(event.task);
  });
  client.on('disconnected', () => {
    if (closed) return;
    void (async () => {
      while (!closed && !endedTask) {
        try {
          await client.connect();
          await look();
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, RECONNECT_PAUSE_MS));
        }
      }
    })();
  });

  try {
    try {
      await client.connect();
    } catch (error) {
      throw refusedToken(error, flags) ?? error;
    }
    requireLiveOutput(client, flags);
    // The task first: an unknown one is one line, as `mittelo get` says it.
    await client.get(taskId);
    await client.subscribe(['task'], { output: true });
    look().catch(fail);
    return await ended;
  } finally {
    closed = true;
    client.close();
  }
}

/** How the task ended, in one line. */
function endLine(task: Task): string {
  if (task.status === 'done') return `task ${task.task_id} done`;
  const why = preview(outcomeOf(task), 300);
  return `task ${task.task_id} ${task.status}${why ? `: ${why}` : ''}`;
}

export function logsCommand(): Command {
  const command = new Command('logs')
    .description("show a task's live output (the newest lines the hub keeps); -f follows it until it ends")
    .argument('<id>', 'task id')
    .addOption(
      new Option(
        '-f, --follow',
        'keep printing new lines until the task ends; exit 0 done, 1 failed or canceled',
      ),
    )
    .addOption(jsonOption())
    .action(async (rawId: string, flags: LogsFlags) => {
      const taskId = parseTaskId(rawId);
      if (!flags.follow) return printOnce(taskId, flags);
      const task = await follow(taskId, flags);
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify({ task_id: task.task_id, status: task.status, error: task.error })}\n`,
        );
      } else {
        process.stdout.write(`${endLine(task)}\n`);
      }
      if (task.status !== 'done') throw new CliError(endLine(task), EXIT.failure);
    });
  return withConnectionOptions(command);
}
