/**
 * The client commands of `mittelo` as a user runs them: the real CLI as a child process against
 * a real hub process. Output (human and --json), exit codes, the --jsonl rules (a bad line
 * enqueues nothing), the unreachable-hub line, tokens and MITTELO_* env.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HubClient } from '../../src/client/hub-client.ts';
import type { Stats, Task } from '../../src/protocol/model.ts';
import { type HubProcess, makeTempDir, startHubProcess } from '../helpers/hub-process.ts';
import { unusedPort } from '../helpers/ports.ts';
import { type Ran, type RunOptions, runCli } from '../helpers/run-cli.ts';

const parse = <T>(ran: Ran): T => {
  assert.equal(ran.code, 0, `exit ${ran.code}; stderr: ${ran.stderr}`);
  return JSON.parse(ran.stdout) as T;
};

/** Assert a successful run and return its stdout. */
const ok = (ran: Ran): string => {
  assert.equal(ran.code, 0, `exit ${ran.code}; stderr: ${ran.stderr}`);
  return ran.stdout;
};

const idsOf = (stdout: string) => stdout.trim().split('\n').map(Number);

describe('mittelo client commands', () => {
  let hub: HubProcess;
  const dir = makeTempDir('mittelo-cli-');
  /** Run against the test hub (its port given as --port). */
  const mittelo = (args: string[], options: RunOptions = {}) =>
    runCli([...args, '--port', String(hub.port)], { cwd: dir, ...options });
  const stats = async () => parse<{ stats: Stats }>(await mittelo(['stats', '--json'])).stats;
  const getTask = async (id: number) =>
    parse<{ task: Task }>(await mittelo(['get', String(id), '--json'])).task;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  before(async () => {
    hub = await startHubProcess();
  });
  after(async () => {
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('enqueue', () => {
    it('--prompt prints the new id, and the flags land on the task', async () => {
      const ran = await mittelo([
        'enqueue',
        '--prompt',
        'review the parser',
        '--backend',
        'codex',
        '--tag',
        'python',
        '--tag',
        'repo:x',
        '--priority',
        '7',
        '--max-attempts',
        '3',
        '--timeout-s',
        '90',
      ]);
      assert.match(ok(ran), /^\d+\n$/);
      const task = await getTask(Number(ran.stdout));
      assert.equal(task.prompt, 'review the parser');
      assert.equal(task.status, 'queued');
      assert.equal(task.backend, 'codex');
      assert.deepEqual(task.tags, ['python', 'repo:x']);
      assert.equal(task.priority, 7);
      assert.equal(task.max_attempts, 3);
      assert.equal(task.timeout_s, 90);
    });

    it('--json prints {"task_ids": [...]}', async () => {
      const answer = parse<{ task_ids: number[] }>(
        await mittelo(['enqueue', '--prompt', 'as json', '--json']),
      );
      assert.equal(answer.task_ids.length, 1);
      assert.equal((await getTask(answer.task_ids[0]!)).prompt, 'as json');
    });

    it('--file sends the whole file as one prompt, and --file - reads stdin', async () => {
      const text = 'line one\n\n{"prompt": "not parsed"}\nline four\n';
      const fromFile = idsOf(ok(await mittelo(['enqueue', '--file', file('prompt.md', text)])));
      assert.equal(fromFile.length, 1);
      assert.equal((await getTask(fromFile[0]!)).prompt, text);
      const fromStdin = idsOf(ok(await mittelo(['enqueue', '--file', '-'], { input: 'from stdin' })));
      assert.equal((await getTask(fromStdin[0]!)).prompt, 'from stdin');
    });

    it('--jsonl enqueues one task per line, skipping empty lines, with extra fields in metadata', async () => {
      const path = file(
        'tasks.jsonl',
        [
          JSON.stringify({ prompt: 'first', backend: 'gemini', priority: 2 }),
          '',
          JSON.stringify({ prompt: 'second', id: 'T-2', owner: { team: 'docs' } }),
          '   ',
          JSON.stringify({ prompt: 'third', metadata: { pack: 'p' }, dropped: true }),
          '',
        ].join('\n'),
      );
      const ran = await mittelo(['enqueue', '--jsonl', path, '--backend', 'codex']);
      const ids = idsOf(ok(ran));
      assert.equal(ids.length, 3);
      const [first, second, third] = await Promise.all(ids.map(getTask));
      assert.equal(first!.prompt, 'first');
      assert.equal(first!.backend, 'gemini', "a line's own field wins over the flag");
      assert.equal(first!.priority, 2);
      assert.equal(second!.backend, 'codex', 'the flag fills what the line does not set');
      assert.deepEqual(second!.metadata, { id: 'T-2', owner: { team: 'docs' } });
      assert.deepEqual(third!.metadata, { pack: 'p' });
      assert.match(ran.stderr, /warning: 1 line\(s\) have their own metadata .*tasks\.jsonl:5: dropped/);
    });

    it('--jsonl - reads the tasks from stdin', async () => {
      const input = `${JSON.stringify({ prompt: 'stdin 1' })}\n${JSON.stringify({ prompt: 'stdin 2' })}\n`;
      const answer = parse<{ task_ids: number[] }>(
        await mittelo(['enqueue', '--jsonl', '-', '--json'], { input }),
      );
      assert.equal(answer.task_ids.length, 2);
      assert.deepEqual(
        (await Promise.all(answer.task_ids.map(getTask))).map((t) => t.prompt),
        ['stdin 1', 'stdin 2'],
      );
    });

    it('a bad --jsonl line names file and line, exits 2 and enqueues nothing from the file', async () => {
      const cases: Array<[string, string]> = [
        [JSON.stringify({ prompt: 42 }), 'prompt must be a string'],
        ['{"prompt": "unterminated', 'not valid JSON'],
        [JSON.stringify({ backend: 'codex' }), 'prompt is missing'],
        [JSON.stringify({ prompt: 'p', priority: 'high' }), 'priority must be an integer'],
        [JSON.stringify(['prompt']), 'each line must be a JSON object'],
      ];
      const before = await stats();
      for (const [index, [line, message]] of cases.entries()) {
        const name = `bad-${index}.jsonl`;
        const lines = [JSON.stringify({ prompt: 'good 1' }), '', JSON.stringify({ prompt: 'good 2' })];
        lines.splice(index % 2 === 0 ? 3 : 1, 0, line);
        const badLine = index % 2 === 0 ? 4 : 2;
        const ran = await mittelo(['enqueue', '--jsonl', file(name, lines.join('\n'))], { cwd: dir });
        assert.equal(ran.code, 2, `${name}: exit ${ran.code}; stderr: ${ran.stderr}`);
        assert.equal(ran.stdout, '');
        assert.ok(
          ran.stderr.startsWith(`mittelo: ${join(dir, name)}:${badLine}: ${message}`),
          `${name}: stderr was ${ran.stderr}`,
        );
      }
      // Named as the user named it: a relative path stays relative.
      file('relative.jsonl', `${JSON.stringify({ prompt: 'ok' })}\n${JSON.stringify({ prompt: 7 })}\n`);
      const relative = await mittelo(['enqueue', '--jsonl', 'relative.jsonl']);
      assert.equal(relative.code, 2);
      assert.match(relative.stderr, /^mittelo: relative\.jsonl:2: prompt must be a string/);
      const fromStdin = await mittelo(['enqueue', '--jsonl', '-'], { input: '{"prompt": "a"}\n{}\n' });
      assert.equal(fromStdin.code, 2);
      assert.match(fromStdin.stderr, /^mittelo: stdin:2: prompt is missing/);
      assert.deepEqual(await stats(), before);
    });

    it('sends a big --jsonl file in several calls, every task once and in order', async () => {
      const count = 12_001;
      const lines = Array.from({ length: count }, (_, i) => JSON.stringify({ prompt: `bulk ${i}` }));
      const before = await stats();
      const answer = parse<{ task_ids: number[] }>(
        await mittelo(['enqueue', '--jsonl', file('big.jsonl', lines.join('\n')), '--json']),
      );
      assert.equal(answer.task_ids.length, count);
      assert.equal(new Set(answer.task_ids).size, count);
      const sorted = [...answer.task_ids].sort((a, b) => a - b);
      assert.deepEqual(answer.task_ids, sorted);
      assert.equal((await stats()).queued, before.queued + count);
      assert.equal((await getTask(answer.task_ids.at(-1)!)).prompt, `bulk ${count - 1}`);
    });

    it('needs exactly one source, and a readable one', async () => {
      const before = await stats();
      const none = await mittelo(['enqueue']);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /say what to enqueue: --prompt TEXT, --file PATH or --jsonl PATH/);
      const two = await mittelo(['enqueue', '--prompt', 'a', '--file', file('two.md', 'b')]);
      assert.equal(two.code, 2);
      assert.match(two.stderr, /use one of --prompt, --file, --jsonl, not --prompt and --file/);
      const missing = await mittelo(['enqueue', '--file', 'nope.md']);
      assert.equal(missing.code, 2);
      assert.equal(missing.stderr, 'mittelo: cannot read --file nope.md: no such file\n');
      const empty = await mittelo(['enqueue', '--file', file('empty.md', '\n  \n')]);
      assert.equal(empty.code, 2);
      assert.match(empty.stderr, /empty\.md is empty/);
      assert.deepEqual(await stats(), before);
    });
  });

  describe('status, stats, get, cancel, retry', () => {
    let ids: number[] = [];
    before(async () => {
      const input = ['alpha task', 'beta task', 'gamma task']
        .map((prompt) => JSON.stringify({ prompt, backend: 'status-test' }))
        .join('\n');
      ids = idsOf(ok(await mittelo(['enqueue', '--jsonl', '-'], { input })));
    });

    it('status prints a table, newest first, with a stats line', async () => {
      const out = ok(await mittelo(['status', '--backend', 'status-test']));
      const lines = out.trim().split('\n');
      assert.match(lines[0]!, /^ID\s+STATUS\s+BACKEND\s+WORKER\s+TRIES\s+AGE\s+PROMPT\s+RESULT\/ERROR$/);
      assert.match(
        lines[1]!,
        new RegExp(`^${ids[2]}\\s+queued\\s+status-test\\s+-\\s+0/1\\s+\\d+s\\s+gamma task$`),
      );
      assert.match(lines[3]!, new RegExp(`^${ids[0]}\\s+queued\\s+status-test .*alpha task$`));
      const s = await stats();
      const total = s.queued + s.leased + s.done + s.failed + s.canceled;
      const n = (count: number) => count.toLocaleString('en-US'); // thousands separated: 12,013
      assert.equal(
        lines.at(-1),
        `queued ${n(s.queued)} · leased ${n(s.leased)} · done ${n(s.done)} · failed ${n(s.failed)} · canceled ${n(s.canceled)} · total ${n(total)}`,
      );
    });

    it('status --limit says how many more there are; --limit 0 shows all', async () => {
      const out = ok(await mittelo(['status', '--limit', '1', '--status', 'queued']));
      const total = (await stats()).queued;
      assert.match(
        out,
        new RegExp(`\\(1 newest of ${total.toLocaleString('en-US')} shown; --limit 0 shows all\\)`),
      );
      const all = parse<{ tasks: Task[] }>(await mittelo(['status', '--limit', '0', '--json']));
      assert.ok(all.tasks.length >= total);
    });

    it("status --json prints the hub's list answer", async () => {
      const answer = parse<{ tasks: Task[]; stats: Stats }>(
        await mittelo(['status', '--backend', 'status-test', '--status', 'QUEUED', '--json']),
      );
      assert.deepEqual(
        answer.tasks.map((t) => t.task_id),
        [...ids].reverse(),
      );
      assert.equal(typeof answer.stats.queued, 'number');
    });

    it('stats prints the counts per status (human and --json agree)', async () => {
      const json = await stats();
      const human = ok(await mittelo(['stats']));
      for (const status of ['queued', 'leased', 'done', 'failed', 'canceled'] as const) {
        assert.match(human, new RegExp(`^${status}\\s+${json[status].toLocaleString('en-US')}$`, 'm'));
      }
      assert.match(human, /^total\s+\d{1,3}(?:,\d{3})*$/m);
    });

    it('get shows one task in full', async () => {
      const out = ok(await mittelo(['get', String(ids[1])]));
      assert.match(out, new RegExp(`^task ${ids[1]}\\n`));
      assert.match(out, /^ {2}status\s+queued$/m);
      assert.match(out, /^ {2}backend\s+status-test$/m);
      assert.match(out, /^prompt:\n {2}beta task$/m);
      const json = parse<{ task: Task }>(await mittelo(['get', String(ids[1]), '--json']));
      assert.equal(json.task.task_id, ids[1]);
      assert.equal(json.task.prompt, 'beta task');
    });

    it("get of a task that does not exist exits 4 with the hub's message", async () => {
      const ran = await mittelo(['get', '999999']);
      assert.equal(ran.code, 4);
      assert.equal(ran.stderr, 'mittelo: task 999999 does not exist\n');
      assert.equal(ran.stdout, '');
    });

    it('cancel cancels; canceling again is refused with exit 4', async () => {
      assert.equal(ok(await mittelo(['cancel', String(ids[0])])), `task ${ids[0]} canceled\n`);
      assert.equal((await getTask(ids[0]!)).status, 'canceled');
      const again = await mittelo(['cancel', String(ids[0])]);
      assert.equal(again.code, 4);
      assert.match(again.stderr, /^mittelo: task \d+ is already canceled/);
      const json = parse<{ ok: boolean; task: Task }>(await mittelo(['cancel', String(ids[1]), '--json']));
      assert.equal(json.task.status, 'canceled');
      assert.equal((await mittelo(['cancel', '999999'])).code, 4);
    });

    it('retry with nothing failed retries nothing', async () => {
      assert.equal(ok(await mittelo(['retry'])), 'retried 0 failed tasks\n');
      assert.deepEqual(parse(await mittelo(['retry', '--task', String(ids[2]), '--json'])), { retried: 0 });
      assert.equal((await getTask(ids[2]!)).status, 'queued');
    });

    it('retry of a task that does not exist exits 4 like get, and retries nothing', async () => {
      const ran = await mittelo(['retry', '--task', '99999']);
      assert.equal(ran.code, 4, ran.stderr);
      assert.equal(ran.stderr, 'mittelo: task 99999 does not exist; nothing was retried\n');
      assert.equal(ran.stdout, '');
      const two = await mittelo(['retry', '--task', String(ids[2]), '--task', '99999', '--task', '99998']);
      assert.equal(two.code, 4);
      assert.equal(two.stderr, 'mittelo: tasks 99998, 99999 do not exist; nothing was retried\n');
    });
  });

  describe('enqueue --delay and --not-before', () => {
    it('keeps the task queued until due and shows it as scheduled in status and get', async () => {
      const before = Date.now() / 1000;
      const [delayed] = idsOf(
        ok(await mittelo(['enqueue', '--prompt', 'later', '--backend', 'sched', '--delay', '90m'])),
      );
      const after = Date.now() / 1000;
      const task = await getTask(delayed!);
      assert.equal(task.status, 'queued', 'on the wire it stays queued');
      assert.ok(
        task.available_at >= before + 5400 - 1 && task.available_at <= after + 5400 + 1,
        `available_at ${task.available_at}`,
      );
      const at = Math.floor(Date.now() / 1000) + 7200;
      const [pinned] = idsOf(
        ok(
          await mittelo(['enqueue', '--prompt', 'pinned', '--backend', 'sched', '--not-before', String(at)]),
        ),
      );
      assert.equal((await getTask(pinned!)).available_at, at);
      const lines = ok(await mittelo(['status', '--backend', 'sched'])).split('\n');
      assert.match(lines[1]!, new RegExp(`^${pinned}\\s+scheduled\\s+sched\\s`));
      assert.match(lines[2]!, new RegExp(`^${delayed}\\s+scheduled\\s+sched\\s`));
      assert.ok(
        lines.some((line) => /^scheduled: 2 of [\d,]+ queued tasks are not due yet$/.test(line)),
        lines.join('\n'),
      );
      const detail = ok(await mittelo(['get', String(pinned)]));
      assert.match(detail, /^ {2}status\s+scheduled$/m);
      assert.match(detail, /^ {2}due\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in (1h|2h)\)$/m);
      // A --jsonl line's own not_before / delay_s wins over the flag (both together would be refused).
      const input = `${JSON.stringify({ prompt: 'own', not_before: at })}\n${JSON.stringify({ prompt: 'flag' })}\n`;
      const [own, flag] = idsOf(ok(await mittelo(['enqueue', '--jsonl', '-', '--delay', '60s'], { input })));
      assert.equal((await getTask(own!)).available_at, at);
      assert.ok((await getTask(flag!)).available_at > Date.now() / 1000 + 30);
    });
  });

  it('enqueue --max-cost-usd sets the cap of each task; a --jsonl line keeps its own', async () => {
    const [flagged] = idsOf(ok(await mittelo(['enqueue', '--prompt', 'capped', '--max-cost-usd', '$0.25'])));
    assert.equal((await getTask(flagged!)).max_cost_usd, 0.25);
    const input = `${JSON.stringify({ prompt: 'own', max_cost_usd: 2 })}\n${JSON.stringify({ prompt: 'flag' })}\n`;
    const [own, flag] = idsOf(
      ok(await mittelo(['enqueue', '--jsonl', '-', '--max-cost-usd', '1'], { input })),
    );
    assert.equal((await getTask(own!)).max_cost_usd, 2);
    assert.equal((await getTask(flag!)).max_cost_usd, 1);
  });

  // Some forty CLI processes: run four at a time, and allow a loaded machine its minutes.
  it('refuses bad flags with exit 2 and sends nothing', { timeout: 600_000 }, async () => {
    const before = await stats();
    const cases: Array<[string[], RegExp]> = [
      [['enqueue', '--prompt', 'x', '--priority', 'high'], /--priority must be an integer .*got "high"/],
      [['enqueue', '--prompt', 'x', '--priority', '1.5'], /--priority must be an integer/],
      [
        ['enqueue', '--prompt', 'x', '--max-attempts', '0'],
        /--max-attempts must be an integer from 1 to 100/,
      ],
      [['enqueue', '--prompt', 'x', '--timeout-s', '-5'], /--timeout-s must be a number of seconds/],
      [['enqueue', '--prompt', 'x', '--max-cost-usd', '0'], /--max-cost-usd must be .*got "0"/],
      [['enqueue', '--prompt', 'x', '--max-cost-usd', 'lots'], /--max-cost-usd must be .*got "lots"/],
      [['enqueue', '--prompt', 'x', '--backend', 'two words'], /--backend must be a name/],
      [['enqueue', '--prompt', 'x', '--tag', 'a/b'], /--tag must be a name .*got "a\/b"/],
      [['enqueue', '--prompt', '   '], /--prompt is empty/],
      [['enqueue', '--prompt', 'x', '--nope'], /unknown option '--nope'/],
      [['status', '--status', 'finished'], /--status must be one of queued, leased, done, failed, canceled/],
      [['status', '--limit', '-1'], /--limit must be a non-negative integer/],
      [['status', '--backend', '!'], /--backend must be a name/],
      [['get', 'abc'], /task id must be a positive integer, got "abc"/],
      [['get'], /missing required argument 'id'/],
      [['get', '1', '2'], /too many arguments/],
      [['cancel', '0'], /task id must be a positive integer, got "0"/],
      [['wait'], /missing required argument 'ids'/],
      [['wait', '1', 'x'], /task id must be a positive integer, got "x"/],
      [['wait', '1', '--timeout-s', 'soon'], /--timeout-s must be a number of seconds/],
      [['retry', '--task', '1.5'], /--task must be a positive integer, got "1.5"/],
      [
        ['enqueue', '--prompt', 'x', '--delay', 'soon'],
        /--delay must be a duration: a whole number and a unit/,
      ],
      [
        ['enqueue', '--prompt', 'x', '--delay', '400d'],
        /--delay must be a number of seconds from 0 to 31536000 \(a year\)/,
      ],
      [
        ['enqueue', '--prompt', 'x', '--delay', '5m', '--not-before', '18:00'],
        /--delay .* or --not-before .*, not both/,
      ],
      [
        ['enqueue', '--prompt', 'x', '--not-before', 'tomorrow'],
        /--not-before must be Unix seconds .* or a time of day/,
      ],
      [
        ['enqueue', '--prompt', 'x', '--not-before', '1767225600000'],
        /--not-before 1767225600000 looks like milliseconds/,
      ],
      [['enqueue', '--jsonl', '-'], /stdin:1: delay_s: give not_before \(a Unix time\) or delay_s/],
      [['pause', '--for', 'ever'], /--for must be a duration/],
      [['pause', '--for', '1h', '--until', '18:00'], /--for .* or --until .*, not both/],
      [['pause', '--until', '1000'], /--until 1000 is in the past/],
      [['pause', '--backend', 'two words'], /--backend must be a name/],
      [['resume', '--backend', '!'], /--backend must be a name/],
    ];
    const check = async ([args, message]: [string[], RegExp]) => {
      const input = args.includes('--jsonl') ? '{"prompt": "x", "not_before": 1, "delay_s": 5}\n' : undefined;
      const ran = await mittelo(args, input === undefined ? {} : { input });
      assert.equal(ran.code, 2, `mittelo ${args.join(' ')}: exit ${ran.code}; stderr: ${ran.stderr}`);
      assert.match(ran.stderr, message, `mittelo ${args.join(' ')}`);
      assert.equal(ran.stdout, '', `mittelo ${args.join(' ')}`);
    };
    for (let at = 0; at < cases.length; at += 4) await Promise.all(cases.slice(at, at + 4).map(check));
    // (--port is checked too; run without the test hub's own --port, which would come last and win.)
    const badPort = await runCli(['stats', '--port', 'eighty']);
    assert.equal(badPort.code, 2);
    assert.equal(badPort.stderr, 'mittelo: --port must be a port number 0-65535, got "eighty"\n');
    assert.deepEqual(await stats(), before);
  });

  it('takes the hub address from MITTELO_PORT and MITTELO_HOST', async () => {
    const env = { MITTELO_PORT: String(hub.port), MITTELO_HOST: '127.0.0.1' };
    const viaEnv = parse<{ stats: Stats }>(await runCli(['stats', '--json'], { env }));
    assert.deepEqual(viaEnv.stats, await stats());
    const ids = idsOf(ok(await runCli(['enqueue', '--prompt', 'via env', '--backend', 'env'], { env })));
    assert.equal((await getTask(ids[0]!)).prompt, 'via env');
    // A flag wins over the environment.
    const port = await unusedPort();
    const flagWins = await runCli(['stats', '--port', String(hub.port)], {
      env: { MITTELO_PORT: String(port) },
    });
    assert.equal(flagWins.code, 0, flagWins.stderr);
  });
});

describe('mittelo wait and retry with tasks that finish', () => {
  let hub: HubProcess;
  let client: HubClient;
  let backendCount = 0;
  const mittelo = (args: string[], options: RunOptions = {}) =>
    runCli([...args, '--port', String(hub.port)], options);
  /**
   * Enqueue tasks for a backend of their own, so that a lease for that backend gets exactly these
   * (every task on this hub is routed to some backend).
   */
  const enqueue = async (count: number, extra: string[] = []) => {
    const backend = `wait-${++backendCount}`;
    const input = Array.from({ length: count }, (_, i) => JSON.stringify({ prompt: `${backend} ${i}` })).join(
      '\n',
    );
    const ids = idsOf(
      ok(await mittelo(['enqueue', '--jsonl', '-', '--backend', backend, ...extra], { input })),
    );
    return { ids, backend };
  };
  /** Lease one of the backend's tasks and finish it. */
  const finish = async (
    backend: string,
    outcome:
      | { status: 'done'; result: string }
      | { status: 'failed'; error: string; error_kind?: string; error_fix?: string },
  ) => {
    const { tasks } = await client.lease({ worker_id: `worker-${backend}`, backend, max_tasks: 1 });
    assert.equal(tasks.length, 1, `nothing to lease for ${backend}`);
    const [task] = tasks;
    await client.ack({ task_id: task!.task_id, lease_token: task!.lease_token, ...outcome });
    return task!.task_id;
  };

  before(async () => {
    hub = await startHubProcess();
    client = new HubClient({ port: hub.port, reconnect: false });
    await client.connect();
  });
  after(async () => {
    client?.close();
    await hub.stop();
  });

  it('exits 0 when every task is done, printing each status', async () => {
    const { ids, backend } = await enqueue(2);
    await finish(backend, { status: 'done', result: 'first answer' });
    await finish(backend, { status: 'done', result: 'second answer' });
    const out = ok(await mittelo(['wait', ...ids.map(String)]));
    assert.match(out, new RegExp(`^${ids[0]}\\s+done\\s+first answer$`, 'm'));
    assert.match(out, new RegExp(`^${ids[1]}\\s+done\\s+second answer$`, 'm'));
    const json = parse<{ tasks: Task[]; timed_out: boolean }>(
      await mittelo(['wait', String(ids[0]), '--json']),
    );
    assert.equal(json.timed_out, false);
    assert.equal(json.tasks[0]!.result, 'first answer');
  });

  it('blocks until the task finishes', async () => {
    const { ids, backend } = await enqueue(1);
    const waiting = mittelo(['wait', String(ids[0]), '--timeout-s', '60']);
    let exited = false;
    void waiting.then(() => {
      exited = true;
    });
    // Whatever the machine's speed, a wait on a queued task must not have returned by now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(exited, false, 'wait returned while the task was still queued');
    await finish(backend, { status: 'done', result: 'late' });
    const ran = await waiting;
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /done\s+late/);
  });

  it('exits 1 when a task failed or was canceled, naming which', async () => {
    const { ids, backend } = await enqueue(3);
    await finish(backend, { status: 'done', result: 'fine' });
    await finish(backend, { status: 'failed', error: 'not logged in', error_kind: 'auth' });
    await client.cancel(ids[2]!);
    const ran = await mittelo(['wait', ...ids.map(String)]);
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(ran.stdout, new RegExp(`^${ids[1]}\\s+failed\\s+auth: not logged in$`, 'm'));
    assert.match(ran.stdout, new RegExp(`^${ids[2]}\\s+canceled`, 'm'));
    assert.equal(ran.stderr, `mittelo: task ${ids[1]} failed, task ${ids[2]} canceled\n`);
  });

  it('exits 1 when the time runs out, saying which tasks are not finished', async () => {
    const { ids, backend } = await enqueue(2);
    await finish(backend, { status: 'done', result: 'one' });
    const ran = await mittelo(['wait', ...ids.map(String), '--timeout-s', '0.2']);
    assert.equal(ran.code, 1, ran.stderr);
    assert.match(ran.stdout, new RegExp(`^${ids[1]}\\s+queued\\s+\\(not finished\\)$`, 'm'));
    assert.equal(ran.stderr, `mittelo: timed out after 0.2s: 1 task(s) not finished (${ids[1]})\n`);
    const json = await mittelo(['wait', String(ids[1]), '--timeout-s', '0', '--json']);
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).timed_out, true);
    await client.cancel(ids[1]!);
  });

  it('--any returns when one task is done', async () => {
    const { ids, backend } = await enqueue(2);
    await finish(backend, { status: 'done', result: 'quick' });
    const ran = await mittelo(['wait', ...ids.map(String), '--any', '--timeout-s', '60']);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, new RegExp(`^${ids[1]}\\s+queued\\s+\\(not finished\\)$`, 'm'));
    await client.cancel(ids[1]!);
  });

  it('a task that does not exist is refused with exit 4', async () => {
    const ran = await mittelo(['wait', '999999', '--timeout-s', '1']);
    assert.equal(ran.code, 4);
    assert.match(ran.stderr, /^mittelo: no such task: 999999\n$/);
  });

  it('get shows a failure in full; retry queues failed tasks again', async () => {
    const { ids, backend } = await enqueue(2, ['--max-attempts', '1']);
    await finish(backend, {
      status: 'failed',
      error: 'claude: not logged in\nsecond line',
      error_kind: 'auth',
      error_fix: 'run claude /login',
    });
    await finish(backend, { status: 'failed', error: 'boom' });
    const out = ok(await mittelo(['get', String(ids[0])]));
    assert.match(out, /^ {2}status\s+failed$/m);
    assert.match(out, /^ {2}error kind\s+auth$/m);
    assert.match(out, /^ {2}fix\s+run claude \/login$/m);
    assert.match(out, /^error:\n {2}claude: not logged in\n {2}second line$/m);

    assert.equal(ok(await mittelo(['retry', '--task', String(ids[0])])), 'retried 1 failed task\n');
    const first = parse<{ task: Task }>(await mittelo(['get', String(ids[0]), '--json'])).task;
    assert.equal(first.status, 'queued');
    assert.equal(first.error, null);
    const failed = (await client.stats()).failed;
    assert.ok(failed >= 1);
    assert.deepEqual(parse(await mittelo(['retry', '--json'])), { retried: failed });
    assert.equal((await client.stats()).failed, 0);
    const second = parse<{ task: Task }>(await mittelo(['get', String(ids[1]), '--json'])).task;
    assert.equal(second.status, 'queued');
  });
});

describe('mittelo enqueue when the hub refuses a task', () => {
  let hub: HubProcess;
  const dir = makeTempDir('mittelo-cli-refused-');
  before(async () => {
    hub = await startHubProcess({ args: ['--max-prompt-bytes', '100'] });
  });
  after(async () => {
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, prompts: string[]) => {
    writeFileSync(join(dir, name), prompts.map((prompt) => JSON.stringify({ prompt })).join('\n'));
    return name;
  };
  const stats = async () =>
    parse<{ stats: Stats }>(await runCli(['stats', '--json', '--port', String(hub.port)])).stats;

  it('names the line the hub refused, and a refused call enqueues none of its tasks', async () => {
    const name = write('one-call.jsonl', ['short', 'short too', 'x'.repeat(200)]);
    const ran = await runCli(['enqueue', '--jsonl', name, '--port', String(hub.port)], { cwd: dir });
    assert.equal(ran.code, 2, ran.stderr);
    assert.equal(ran.stdout, '');
    assert.match(ran.stderr, /^mittelo: one-call\.jsonl:3: prompt is 200 bytes; the hub's limit is 100/);
    assert.equal((await stats()).queued, 0);
  });

  it('after earlier calls went in, prints their ids and says how many', async () => {
    const prompts = Array.from({ length: 5000 }, (_, i) => `p${i}`);
    const name = write('two-calls.jsonl', [...prompts, 'x'.repeat(200)]);
    const ran = await runCli(['enqueue', '--jsonl', name, '--port', String(hub.port)], { cwd: dir });
    assert.equal(ran.code, 2, ran.stderr);
    assert.equal(idsOf(ran.stdout).length, 5000);
    assert.equal(
      ran.stderr,
      'mittelo: 5000 of 5001 tasks were enqueued (ids printed) before this failure:\n' +
        "mittelo: two-calls.jsonl:5001: prompt is 200 bytes; the hub's limit is 100 (hub flag --max-prompt-bytes)\n",
    );
    assert.equal((await stats()).queued, 5000);
  });
});

describe('mittelo with no hub there', () => {
  it('prints one line naming the address and exits 3, from every command', async () => {
    const port = await unusedPort();
    const expected = `mittelo: no hub at 127.0.0.1:${port} — start one with \`mittelo hub\`\n`;
    const commands = [
      ['stats'],
      ['status'],
      ['enqueue', '--prompt', 'x'],
      ['get', '1'],
      ['cancel', '1'],
      ['wait', '1'],
      ['retry'],
      ['shutdown'],
    ];
    for (const args of commands) {
      const ran = await runCli([...args, '--port', String(port)]);
      assert.equal(ran.code, 3, `mittelo ${args.join(' ')}: ${ran.stderr}`);
      assert.equal(ran.stderr, expected);
      assert.equal(ran.stdout, '');
    }
    const viaEnv = await runCli(['stats'], { env: { MITTELO_PORT: String(port) } });
    assert.equal(viaEnv.code, 3);
    assert.equal(viaEnv.stderr, expected);
  });

  it('checks its input before looking for the hub', async () => {
    const port = await unusedPort();
    const ran = await runCli(['enqueue', '--jsonl', '-', '--port', String(port)], {
      input: '{"prompt": 1}\n',
    });
    assert.equal(ran.code, 2);
    assert.match(ran.stderr, /^mittelo: stdin:1: prompt must be a string/);
  });
});

describe('mittelo against a hub with a token', () => {
  let hub: HubProcess;
  before(async () => {
    hub = await startHubProcess({ args: ['--token', 'x'] });
  });
  after(async () => {
    await hub.stop();
  });

  it('without the token: exit 4 and how to pass it', async () => {
    const ran = await runCli(['stats', '--port', String(hub.port)]);
    assert.equal(ran.code, 4);
    assert.match(ran.stderr, /^mittelo: this hub requires a token: pass --token or set MITTELO_TOKEN/);
    const wrong = await runCli(['stats', '--port', String(hub.port), '--token', 'y']);
    assert.equal(wrong.code, 4);
    assert.match(wrong.stderr, /refused the token \(wrong token\)/);
  });

  it('with --token or MITTELO_TOKEN: works', async () => {
    const ids = idsOf(
      ok(await runCli(['enqueue', '--prompt', 'secret work', '--port', String(hub.port), '--token', 'x'])),
    );
    assert.equal(ids.length, 1);
    const env = { MITTELO_TOKEN: 'x', MITTELO_PORT: String(hub.port) };
    const answer = parse<{ stats: Stats }>(await runCli(['stats', '--json'], { env }));
    assert.equal(answer.stats.queued, 1);
  });

  it('shutdown stops the hub', async () => {
    const ran = await runCli(['shutdown', '--port', String(hub.port), '--token', 'x', '--json']);
    assert.deepEqual(parse(ran), { ok: true });
    assert.equal(await hub.exited, 0);
    const later = await runCli(['stats', '--port', String(hub.port), '--token', 'x']);
    assert.equal(later.code, 3);
  });
});

describe('mittelo shutdown', () => {
  it('asks the hub to stop and says so', async () => {
    const hub = await startHubProcess();
    try {
      const ran = await runCli(['shutdown', '--port', String(hub.port)]);
      assert.equal(ok(ran), `hub at 127.0.0.1:${hub.port} is shutting down\n`);
      assert.equal(await hub.exited, 0);
    } finally {
      await hub.stop();
    }
  });
});
