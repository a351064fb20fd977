/**
 * The terminal dashboard's live parts of a task: each running task's newest output line under its
 * row (cut to the width, read only for the leased rows shown) and the size of a finished task's
 * worktree change, on a hub with live output and on one without.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NewestOutput } from '../../src/cli/dashboard/newest-output.ts';
import { type DashboardView, renderDashboard } from '../../src/cli/dashboard/render.ts';
import { NO_FILTER, type Snapshot } from '../../src/cli/dashboard/snapshot.ts';
import type { HubClient } from '../../src/client/hub-client.ts';
import type { OutputLine, Task, WorktreeChange } from '../../src/protocol/model.ts';
import { makeAgent as agent, FIXTURE_NOW as NOW, makeTask as task } from '../helpers/fixtures.ts';

const BIG = { width: Number.POSITIVE_INFINITY, height: Number.POSITIVE_INFINITY };

function line(seq: number, text: string, kind: OutputLine['kind'] = 'text'): OutputLine {
  return { seq, at: NOW - 1, kind, text };
}

function change(fields: Partial<WorktreeChange> = {}): WorktreeChange {
  return {
    branch: 'mittelo/task-7-abc',
    path: '/repo/.mittelo/worktrees/task-7-abc',
    base_ref: 'HEAD',
    base_commit: 'a'.repeat(40),
    commit: 'b'.repeat(40),
    files_changed: 2,
    insertions: 12,
    deletions: 3,
    diff: '+x\n',
    diff_bytes: 4,
    diff_truncated: false,
    diff_cap_bytes: 262_144,
    kept: false,
    ...fields,
  };
}

const running = (id: number, fields: Partial<Task> = {}) =>
  task(id, { status: 'leased', result: null, worker_id: `w-${id}`, ...fields });

function snapshot(fields: Partial<Snapshot> = {}): Snapshot {
  return {
    hub: '127.0.0.1:8765',
    taken_at: NOW,
    filter: NO_FILTER,
    stats: { queued: 0, leased: 2, done: 1, failed: 0, canceled: 0 },
    agents: [agent('w-9')],
    queued_by_backend: null,
    pauses: null,
    tasks: [running(9), running(8), task(7, { worktree: change() })],
    newest_output: {
      '9': line(41, 'running the tests: npm test', 'tool'),
      '8': line(3, 'I will edit src/parser.ts next'),
    },
    ...fields,
  };
}

function view(fields: Partial<DashboardView> = {}): DashboardView {
  return {
    hub: '127.0.0.1:8765',
    now: NOW,
    connection: 'connected',
    problem: null,
    snapshot: snapshot(),
    filter: NO_FILTER,
    keys: null,
    ...fields,
  };
}

describe('dashboard: newest output lines and changes', () => {
  it("puts each running task's newest line under its row, and a finished task's change in CHANGE", () => {
    const lines = renderDashboard(view(), BIG);
    const heading = lines.findIndex((text) => text.startsWith('ID '));
    assert.match(lines[heading]!, /^ID +STATUS +BACKEND +WORKER +TRIES +AGE +CHANGE +PROMPT +RESULT\/ERROR$/);
    assert.match(lines[heading + 1]!, /^9 +leased /);
    assert.equal(lines[heading + 2], '  ↳ tool: running the tests: npm test');
    assert.match(lines[heading + 3]!, /^8 +leased /);
    assert.equal(lines[heading + 4], '  ↳ text: I will edit src/parser.ts next');
    assert.match(lines[heading + 5]!, /^7 +done +- +w-1 +1\/1 +1m +\+12 −3 +prompt 7 +result 7$/);
    assert.equal(lines.length, heading + 6, lines.join('\n'));
    assert.ok(lines.includes('tasks, newest first: 3 · a change in full: mittelo diff ID'), lines.join('\n'));
  });

  it('cuts a long or many-line output line to the width, on one line, without control codes', () => {
    const long = `${'word '.repeat(60)}\nsecond line\x1b[2J`;
    const shown = snapshot({ newest_output: { '9': line(1, long) } });
    const lines = renderDashboard(view({ snapshot: shown }), { width: 60, height: 40 });
    const under = lines.find((text) => text.startsWith('  ↳ text: word word'));
    assert.ok(under, lines.join('\n'));
    assert.equal(under.length, 60);
    assert.ok(under.endsWith('…'));
    for (const text of lines) {
      assert.ok(text.length <= 60, `too wide: ${text}`);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: checking that none are left.
      assert.doesNotMatch(text, /[\u0000-\u001f\u007f-\u009f]/);
    }
  });

  it('counts the output rows against the height: fewer tasks fit, the title says how many', () => {
    const tasks = Array.from({ length: 30 }, (_, i) => running(30 - i));
    const newest = Object.fromEntries(tasks.map((t) => [String(t.task_id), line(1, `line of ${t.task_id}`)]));
    const lines = renderDashboard(view({ snapshot: snapshot({ tasks, newest_output: newest }) }), {
      width: 100,
      height: 24,
    });
    assert.equal(lines.length, 24);
    const title = lines.find((text) => text.startsWith('tasks, newest first: '))!;
    const shown = Number(/^tasks, newest first: (\d+)/.exec(title)![1]);
    const rows = lines.filter((text) => /^\d+ +leased /.test(text)).length;
    const under = lines.filter((text) => text.startsWith('  ↳ ')).length;
    assert.equal(rows, shown);
    assert.equal(under, shown, 'every task shown has its line under it');
    assert.ok(shown > 0 && shown < 30);
  });

  it('a hub without live output (no newest_output) and without worktrees: the table of before', () => {
    for (const old of [
      snapshot({ newest_output: null, tasks: [running(9), task(7)] }),
      snapshot({ newest_output: undefined, tasks: [running(9), task(7)] }),
    ]) {
      const lines = renderDashboard(view({ snapshot: old }), BIG);
      assert.ok(
        lines.some((text) => /^ID +STATUS +BACKEND +WORKER +TRIES +AGE +PROMPT +RESULT\/ERROR$/.test(text)),
      );
      assert.ok(
        !lines.some((text) => text.includes('↳') || text.includes('CHANGE') || text.includes('mittelo diff')),
      );
    }
  });

  it('a queued or finished task shows no output line even if one is known', () => {
    const shown = snapshot({ tasks: [task(9)], newest_output: { '9': line(1, 'old news') } });
    assert.ok(!renderDashboard(view({ snapshot: shown }), BIG).some((text) => text.includes('old news')));
  });
});

/** A HubClient as NewestOutput uses it: hello's features and output_tail over kept lines. */
function fakeHub(features: string[], kept: Record<number, OutputLine[]>) {
  const calls: Array<[number, number | undefined, number | undefined]> = [];
  const client = {
    hasFeature: (feature: string) => features.includes(feature),
    async outputTail(taskId: number, afterSeq?: number, limit?: number) {
      calls.push([taskId, afterSeq, limit]);
      const all = kept[taskId] ?? [];
      // Like the hub: the first `limit` lines after `afterSeq`, and the newest seq there is.
      const after = all.filter((entry) => entry.seq > (afterSeq ?? 0));
      return {
        task_id: taskId,
        lines: after.slice(0, limit ?? after.length),
        last_seq: all.at(-1)?.seq ?? 0,
        lost: 0,
      };
    },
  };
  return { client: client as unknown as HubClient, calls, kept };
}

describe('NewestOutput', () => {
  it('asks only about the leased tasks listed, keeps their newest line, and asks for what is new after', async () => {
    const hub = fakeHub(['hello', 'live_output'], {
      9: [line(1, 'a'), line(2, 'b'), line(3, 'c')],
      8: [line(1, 'only')],
      7: [line(1, 'finished, not asked')],
    });
    const newest = new NewestOutput();
    const tasks = [running(9), running(8), running(6), task(7)];
    const first = await newest.read(hub.client, tasks);
    assert.deepEqual(first, { '9': line(3, 'c'), '8': line(1, 'only') });
    assert.ok(
      hub.calls.every(([id]) => id !== 7),
      'a finished task is not asked about',
    );
    assert.ok(
      hub.calls.every(([, , limit]) => limit === 1),
      'one line at a time',
    );

    hub.calls.length = 0;
    hub.kept[9]!.push(line(4, 'd'));
    const second = await newest.read(hub.client, tasks);
    assert.deepEqual(second?.['9'], line(4, 'd'));
    assert.deepEqual(
      hub.calls.filter(([id]) => id === 9),
      [[9, 3, 1]],
      'after the seq it knew, and one answer is enough when one line is new',
    );
    assert.deepEqual(
      hub.calls.find(([id]) => id === 8),
      [8, 1, 1],
    );

    // A task no longer listed running is forgotten (and not asked about).
    hub.calls.length = 0;
    const third = await newest.read(hub.client, [task(9), running(8)]);
    assert.deepEqual(third, { '8': line(1, 'only') });
    assert.deepEqual(
      hub.calls.map(([id]) => id),
      [8],
    );
  });

  it('starts over when the hub forgot the lines it knew (a restarted hub)', async () => {
    const hub = fakeHub(['live_output'], { 9: [line(1, 'a'), line(2, 'b')] });
    const newest = new NewestOutput();
    await newest.read(hub.client, [running(9)]);
    hub.kept[9] = [line(1, 'after the restart')];
    assert.deepEqual(await newest.read(hub.client, [running(9)]), { '9': line(1, 'after the restart') });
  });

  it('never asks a hub without live output, and says so with null', async () => {
    for (const features of [[], ['hello', 'workspaces']]) {
      const hub = fakeHub(features, { 9: [line(1, 'a')] });
      assert.equal(await new NewestOutput().read(hub.client, [running(9)]), null);
      assert.deepEqual(hub.calls, []);
    }
    const v01 = { hasFeature: () => false, outputTail: () => assert.fail('a v0.1 hub is not asked') };
    assert.equal(await new NewestOutput().read(v01 as unknown as HubClient, [running(9)]), null);
  });

  it('leaves out a task whose tail cannot be read, without failing the snapshot', async () => {
    const hub = fakeHub(['live_output'], { 8: [line(1, 'fine')] });
    const client = {
      hasFeature: (feature: string) => feature === 'live_output',
      outputTail: (taskId: number, afterSeq?: number, limit?: number) =>
        taskId === 9
          ? Promise.reject(new Error('no such task'))
          : hub.client.outputTail(taskId, afterSeq, limit),
    };
    assert.deepEqual(
      await new NewestOutput().read(client as unknown as HubClient, [running(9), running(8)]),
      {
        '8': line(1, 'fine'),
      },
    );
  });
});
