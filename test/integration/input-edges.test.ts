/**
 * Input at the edges, over real TCP (and REST) against a real hub process: JSON nested thousands
 * of levels deep and strings with a lone UTF-16 surrogate are refused with `bad_request` saying
 * why, nothing is stored and the hub keeps serving; JSON at the depth limit and valid astral
 * characters (surrogate pairs) are stored and returned exactly as sent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startHubProcess } from '../helpers/hub-process.ts';
import { type RawClient, type WireMessage, withRawHub } from '../helpers/raw-client.ts';

/** The depth limit the hub states (src/protocol/json-limits.ts), as a client sees it. */
const LIMIT = 64;

/** JSON text of `levels` objects nested inside each other (JSON.stringify would overflow first). */
const nestedJson = (levels: number, open = '{"a":', close = '}') =>
  `${open.repeat(levels)}"bottom"${close.repeat(levels)}`;

/** Send one request line as raw text and read its answer. */
async function callRaw(client: RawClient, id: string, method: string, paramsJson: string) {
  client.send(`{"id":${JSON.stringify(id)},"method":${JSON.stringify(method)},"params":${paramsJson}}\n`);
  return client.nextMatching((message) => message.id === id);
}

function assertBadRequest(response: WireMessage, pattern: RegExp): void {
  assert.equal(response.result, null, JSON.stringify(response));
  assert.equal(response.error?.code, 'bad_request', JSON.stringify(response));
  assert.match(response.error.message, pattern);
}

async function storedTasks(client: RawClient): Promise<WireMessage[]> {
  return (await client.result('list', { limit: 0 })).tasks as WireMessage[];
}

describe('input edges: deep nesting', () => {
  it('metadata nested 4,400 levels deep is bad_request with the limit; nothing is enqueued; the hub serves on', async () => {
    await withRawHub([], async ({ client, connect }) => {
      const deep = nestedJson(4_400);
      const answer = await callRaw(client, 'deep', 'enqueue', `{"prompt":"p","metadata":${deep}}`);
      assertBadRequest(answer, new RegExp(`deeper than ${LIMIT} levels.*at metadata\\.a`));
      const batch = await callRaw(
        client,
        'deep-batch',
        'enqueue_many',
        `{"tasks":[{"prompt":"fine"},{"prompt":"p","metadata":${deep}}]}`,
      );
      assertBadRequest(batch, new RegExp(`deeper than ${LIMIT} levels.*at tasks\\[1\\]\\.metadata`));
      assert.deepEqual(await storedTasks(client), []);

      // The same connection and a new one still work.
      const id = (await client.result('enqueue', { prompt: 'after' })).task_id as number;
      const other = await connect();
      const stats = (await other.result('stats')).stats as WireMessage;
      assert.equal(stats.queued, 1);

      // usage (ack) is checked the same way, and the refused ack changes nothing.
      const [leased] = (await client.result('lease', { worker_id: 'w' })).tasks as WireMessage[];
      const ack = await callRaw(
        client,
        'deep-ack',
        'ack',
        `{"task_id":${id},"status":"done","lease_token":"${leased!.lease_token}","usage":${deep}}`,
      );
      assertBadRequest(ack, new RegExp(`deeper than ${LIMIT} levels.*at usage\\.a`));
      assert.equal(((await client.result('get', { task_id: id })).task as WireMessage).status, 'leased');
    });
  });

  it('metadata at the limit is accepted and returned as sent; one level more is refused', async () => {
    await withRawHub([], async ({ client }) => {
      const atLimit = nestedJson(LIMIT);
      const accepted = await callRaw(client, 'at', 'enqueue', `{"prompt":"p","metadata":${atLimit}}`);
      assert.equal(accepted.error, null, JSON.stringify(accepted));
      const task = (await client.result('get', { task_id: accepted.result.task_id })).task as WireMessage;
      assert.deepEqual(task.metadata, JSON.parse(atLimit));

      const over = await callRaw(
        client,
        'over',
        'enqueue',
        `{"prompt":"p","metadata":${nestedJson(LIMIT + 1)}}`,
      );
      assertBadRequest(over, new RegExp(`deeper than ${LIMIT} levels`));
      assert.equal((await storedTasks(client)).length, 1);
    });
  });

  it('REST gets the same refusal (400 bad_request)', async () => {
    const hub = await startHubProcess({ rest: true });
    try {
      const response = await fetch(`${hub.restUrl}/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"prompt":"p","metadata":${nestedJson(4_400)}}`,
      });
      const body = (await response.json()) as WireMessage;
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(body.code, 'bad_request');
      assert.match(body.error, new RegExp(`deeper than ${LIMIT} levels`));
      const listed = (await (await fetch(`${hub.restUrl}/tasks?limit=0`)).json()) as WireMessage;
      assert.deepEqual(listed.tasks, []);
    } finally {
      await hub.stop();
    }
  });
});

describe('input edges: Unicode', () => {
  it('a lone surrogate in a prompt is bad_request naming the field and index; nothing is stored', async () => {
    await withRawHub([], async ({ client }) => {
      const answer = await callRaw(client, 'lone', 'enqueue', '{"prompt":"abc\\ud800def"}');
      assertBadRequest(answer, /^prompt contains a lone UTF-16 surrogate at index 3; send valid Unicode$/);
      const batch = await callRaw(
        client,
        'lone-batch',
        'enqueue_many',
        '{"tasks":[{"prompt":"fine"},{"prompt":"x\\udc00"}]}',
      );
      assertBadRequest(batch, /^tasks\[1\]\.prompt contains a lone UTF-16 surrogate at index 1/);
      const inMetadata = await callRaw(
        client,
        'lone-meta',
        'enqueue',
        '{"prompt":"p","metadata":{"k":["\\udfff"]}}',
      );
      assertBadRequest(inMetadata, /^metadata\.k\[0\] contains a lone UTF-16 surrogate/);
      assert.deepEqual(await storedTasks(client), []);

      // A result with one is refused too, and the task keeps its lease.
      const id = (await client.result('enqueue', { prompt: 'p' })).task_id as number;
      const [leased] = (await client.result('lease', { worker_id: 'w' })).tasks as WireMessage[];
      const ack = await callRaw(
        client,
        'lone-ack',
        'ack',
        `{"task_id":${id},"status":"done","lease_token":"${leased!.lease_token}","result":"ok \\ud83d"}`,
      );
      assertBadRequest(ack, /^result contains a lone UTF-16 surrogate at index 3/);
      const task = (await client.result('get', { task_id: id })).task as WireMessage;
      assert.equal(task.status, 'leased');
      assert.equal(task.result, null);
    });
  });

  it('astral characters (surrogate pairs) round-trip exactly in prompt, metadata and result; half a pair is refused', async () => {
    await withRawHub([], async ({ client }) => {
      const prompt = 'emoji 😀 🧑‍💻 👍🏽, music 𝄞, gothic 𐍈, replacement \ufffd';
      // Sent as escaped pairs, the way many JSON encoders write them.
      const answer = await callRaw(
        client,
        'astral',
        'enqueue',
        '{"prompt":"pair \\ud83d\\ude00 and raw 😀","metadata":{"\\ud83e\\uddea":"🧪"}}',
      );
      assert.equal(answer.error, null, JSON.stringify(answer));
      const escaped = (await client.result('get', { task_id: answer.result.task_id })).task as WireMessage;
      assert.equal(escaped.prompt, 'pair 😀 and raw 😀');
      assert.deepEqual(escaped.metadata, { '🧪': '🧪' });

      const id = (await client.result('enqueue', { prompt, metadata: { note: prompt } })).task_id as number;
      const leased = (await client.result('lease', { worker_id: 'w', max_tasks: 2 })).tasks as WireMessage[];
      const mine = leased.find((t) => t.task_id === id)!;
      assert.equal(mine.prompt, prompt);
      await client.result('ack', {
        task_id: id,
        status: 'done',
        lease_token: mine.lease_token,
        result: `done ${prompt}`,
      });
      const stored = (await client.result('get', { task_id: id })).task as WireMessage;
      assert.equal(stored.prompt, prompt);
      assert.deepEqual(stored.metadata, { note: prompt });
      assert.equal(stored.result, `done ${prompt}`);

      // Half of the same pair is not valid Unicode: refused, not stored as U+FFFD.
      const half = await callRaw(client, 'half', 'enqueue', '{"prompt":"pair \\ud83d and raw 😀"}');
      assertBadRequest(half, /^prompt contains a lone UTF-16 surrogate at index 5/);
      assert.deepEqual(
        (await storedTasks(client)).map((t) => t.task_id as number).sort((a, b) => a - b),
        [answer.result.task_id, id],
      );
    });
  });
});
