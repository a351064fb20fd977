/**
 * The REST API cannot be driven by a web page the user visits (src/hub/rest/request-guard.ts),
 * against real hub processes over real HTTP: a cross-site text/plain POST enqueues nothing, a
 * cross-site POST /shutdown leaves the hub running, a DNS-rebound Host reads nothing (GET routes
 * and the SSE stream alike), and the same requests with the hub's own Host, Origin and
 * Content-Type work. Requests go through node:http, since fetch does not let a test set Host.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type HubProcess, startHubProcess } from '../helpers/hub-process.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the tests themselves
type Json = Record<string, any>;

interface Answer {
  status: number;
  /** The body as JSON, or null when it is not JSON (an event stream). */
  body: Json | null;
  text: string;
  contentType: string;
}

const TEST_TIMEOUT = { timeout: 300_000 };
const EVIL = 'http://evil.example';

/**
 * One HTTP request with exactly these headers. `host: null` sends no Host header at all; absent,
 * Host is `127.0.0.1:<port>`. An event stream is read until its first line, then dropped.
 */
function send(
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; host?: string | null; body?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.host !== null) headers.host = options.host ?? `127.0.0.1:${port}`;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers, setHost: false, agent: false },
      (response) => {
        const contentType = String(response.headers['content-type'] ?? '');
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
          if (contentType.startsWith('text/event-stream')) {
            response.destroy();
            resolve({ status: response.statusCode!, body: null, text, contentType });
          }
        });
        response.on('end', () => {
          let body: Json | null = null;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: the test looks at `text`
          }
          resolve({ status: response.statusCode!, body, text, contentType });
        });
        response.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The hub's own headers for a JSON write, as curl with -H 'Content-Type: application/json' sends. */
const JSON_TYPE = { 'content-type': 'application/json' };

function assertRefused(answer: Answer, status: number, refused: string, mentions: RegExp): void {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.body?.code, 'bad_request', answer.text);
  assert.equal(answer.body?.details?.refused, refused, answer.text);
  assert.match(answer.body?.error ?? '', mentions);
}

/** Every task the hub holds, read the way a local script does (no Origin, own Host). */
async function allTasks(port: number, token?: string): Promise<Json[]> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const listed = await send(port, 'GET', '/tasks?limit=0', { headers });
  assert.equal(listed.status, 200, listed.text);
  return listed.body!.tasks;
}

describe('REST: a loopback hub without a token', () => {
  let hub: HubProcess;
  let port: number;
  before(async () => {
    hub = await startHubProcess({ rest: true });
    port = hub.restPort!;
  });
  after(async () => {
    await hub?.stop();
  });

  it(
    'a cross-site or non-JSON POST enqueues nothing; a JSON POST from the hub itself does',
    TEST_TIMEOUT,
    async () => {
      const body = JSON.stringify({ prompt: 'rm -rf ~ (sent by a web page)' });
      // What a page's <form> or fetch(..., {mode: 'no-cors'}) can send without a preflight.
      assertRefused(
        await send(port, 'POST', '/tasks', { headers: { origin: EVIL, 'content-type': 'text/plain' }, body }),
        403,
        'origin',
        /evil\.example/,
      );
      assertRefused(
        await send(port, 'POST', '/tasks', { headers: { origin: EVIL, ...JSON_TYPE }, body }),
        403,
        'origin',
        /web page/,
      );
      assertRefused(
        await send(port, 'POST', '/tasks', { headers: { origin: 'null', ...JSON_TYPE }, body }),
        403,
        'origin',
        /web page/,
      );
      for (const type of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
      ]) {
        assertRefused(
          await send(port, 'POST', '/tasks', { headers: { 'content-type': type }, body }),
          415,
          'content_type',
          /application\/json/,
        );
      }
      assertRefused(await send(port, 'POST', '/tasks', { body }), 415, 'content_type', /application\/json/);
      assert.deepEqual(await allTasks(port), [], 'no refused request enqueued a task');

      // The same write from the hub's own page, and from a script, with parameters in the type.
      const own = await send(port, 'POST', '/tasks', {
        headers: { origin: `http://127.0.0.1:${port}`, ...JSON_TYPE },
        body: JSON.stringify({ prompt: 'from the dashboard' }),
      });
      assert.equal(own.status, 200, own.text);
      const script = await send(port, 'POST', '/tasks', {
        headers: { 'content-type': 'Application/JSON; charset=utf-8' },
        body: JSON.stringify({ prompt: 'from a script' }),
      });
      assert.equal(script.status, 200, script.text);
      assert.deepEqual(
        (await allTasks(port)).map((task) => task.prompt),
        ['from a script', 'from the dashboard'],
      );
    },
  );

  it('a write with an empty body needs the JSON type too (cancel, retry_failed)', TEST_TIMEOUT, async () => {
    const created = await send(port, 'POST', '/tasks', {
      headers: JSON_TYPE,
      body: JSON.stringify({ prompt: 'cancel me' }),
    });
    const taskId = created.body!.task_id;
    assertRefused(await send(port, 'POST', `/tasks/${taskId}/cancel`), 415, 'content_type', /without a body/);
    assertRefused(
      await send(port, 'POST', `/tasks/${taskId}/cancel`, { headers: { 'content-type': 'text/plain' } }),
      415,
      'content_type',
      /application\/json/,
    );
    assertRefused(await send(port, 'POST', '/tasks/retry_failed'), 415, 'content_type', /application\/json/);
    const still = (await allTasks(port)).find((task) => task.task_id === taskId);
    assert.equal(still?.status, 'queued', 'the refused cancel changed nothing');

    const canceled = await send(port, 'POST', `/tasks/${taskId}/cancel`, { headers: JSON_TYPE });
    assert.equal(canceled.status, 200, canceled.text);
    assert.equal(canceled.body!.task.status, 'canceled');
  });

  it('a DNS-rebound Host reads nothing, on any GET route; the loopback names do', TEST_TIMEOUT, async () => {
    const routes = ['/tasks', '/stats', '/agents', '/tasks/1', '/openapi.json', '/health', '/'];
    for (const host of [
      `attacker.example:${port}`,
      'attacker.example',
      `localhost.attacker.example:${port}`,
    ]) {
      for (const path of routes) {
        const answer = await send(port, 'GET', path, { host });
        assertRefused(answer, 421, 'host', /--allowed-hosts/);
        assert.doesNotMatch(answer.text, /from the dashboard|cancel me/, `${host} ${path} leaked a task`);
      }
    }
    // Node's HTTP server already answers 400 to an HTTP/1.1 request without Host (the guard would
    // answer 421); either way nothing is read.
    const hostless = await send(port, 'GET', '/tasks', { host: null });
    assert.equal(hostless.status, 400, hostless.text);
    assert.doesNotMatch(hostless.text, /from the dashboard|cancel me/);
    // The rebound page would also send its own Origin; that is refused before anything too.
    assertRefused(
      await send(port, 'GET', '/tasks', {
        host: `attacker.example:${port}`,
        headers: { origin: `http://attacker.example:${port}` },
      }),
      421,
      'host',
      /attacker\.example/,
    );

    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      'localhost',
      `127.8.9.10:${port}`,
      `[::1]:${port}`,
      'LOCALHOST',
    ]) {
      const answer = await send(port, 'GET', '/tasks', { host });
      assert.equal(answer.status, 200, `${host}: ${answer.text}`);
      assert.ok(answer.body!.tasks.length >= 2, host);
    }
    // A GET with the hub's own Origin (the dashboard) is fine; another site's is not.
    const own = await send(port, 'GET', '/stats', {
      host: `localhost:${port}`,
      headers: { origin: `http://localhost:${port}` },
    });
    assert.equal(own.status, 200, own.text);
    assertRefused(
      await send(port, 'GET', '/stats', { headers: { origin: EVIL } }),
      403,
      'origin',
      /evil\.example/,
    );
    // The origin must match the Host the request came to, port included.
    assertRefused(
      await send(port, 'GET', '/stats', { headers: { origin: `http://127.0.0.1:${port + 1}` } }),
      403,
      'origin',
      /web page/,
    );
  });

  it(
    'GET /events is refused for a foreign Host or Origin, and streams for the hub itself',
    TEST_TIMEOUT,
    async () => {
      const rebound = await send(port, 'GET', '/events', { host: `attacker.example:${port}` });
      assertRefused(rebound, 421, 'host', /--allowed-hosts/);
      assert.doesNotMatch(rebound.contentType, /event-stream/);
      const crossSite = await send(port, 'GET', '/events', {
        headers: { origin: EVIL, accept: 'text/event-stream' },
      });
      assertRefused(crossSite, 403, 'origin', /evil\.example/);
      assert.doesNotMatch(crossSite.contentType, /event-stream/);

      const own = await send(port, 'GET', '/events', {
        headers: { origin: `http://127.0.0.1:${port}`, accept: 'text/event-stream' },
      });
      assert.equal(own.status, 200);
      assert.match(own.contentType, /^text\/event-stream/);
      assert.match(own.text, /^: subscribed to/);
    },
  );

  it('POST /shutdown from another site or without JSON leaves the hub running', TEST_TIMEOUT, async () => {
    let exited = false;
    void hub.exited.then(() => {
      exited = true;
    });
    assertRefused(
      await send(port, 'POST', '/shutdown', { headers: { origin: EVIL, 'content-type': 'text/plain' } }),
      403,
      'origin',
      /evil\.example/,
    );
    assertRefused(
      await send(port, 'POST', '/shutdown', { headers: { origin: EVIL, ...JSON_TYPE } }),
      403,
      'origin',
      /web page/,
    );
    assertRefused(await send(port, 'POST', '/shutdown'), 415, 'content_type', /application\/json/);
    assertRefused(
      await send(port, 'POST', '/shutdown', { headers: { 'content-type': 'text/plain' } }),
      415,
      'content_type',
      /application\/json/,
    );
    assertRefused(
      await send(port, 'POST', '/shutdown', { host: `attacker.example:${port}`, headers: JSON_TYPE }),
      421,
      'host',
      /--allowed-hosts/,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(exited, false, 'the hub is still running');
    assert.equal((await send(port, 'GET', '/health')).status, 200);

    // The real thing, as the CLI or a script sends it, does stop the hub.
    const stop = await send(port, 'POST', '/shutdown', { headers: JSON_TYPE });
    assert.equal(stop.status, 200, stop.text);
    assert.equal(await hub.exited, 0);
  });
});

describe('REST: --allowed-hosts and MITTELO_ALLOWED_HOSTS', () => {
  const hubs: HubProcess[] = [];
  after(async () => {
    await Promise.all(hubs.map((hub) => hub.stop()));
  });

  it(
    'let a named host in (case-insensitive, with its own Origin), and no other name',
    TEST_TIMEOUT,
    async () => {
      const byFlag = await startHubProcess({
        rest: true,
        args: ['--allowed-hosts', 'hub.test, Other.Example'],
      });
      hubs.push(byFlag);
      const byEnv = await startHubProcess({ rest: true, env: { MITTELO_ALLOWED_HOSTS: 'hub.test' } });
      hubs.push(byEnv);

      for (const hub of [byFlag, byEnv]) {
        const port = hub.restPort!;
        const read = await send(port, 'GET', '/tasks', { host: `hub.test:${port}` });
        assert.equal(read.status, 200, read.text);
        const write = await send(port, 'POST', '/tasks', {
          host: `HUB.test:${port}`,
          headers: { origin: `http://hub.test:${port}`, ...JSON_TYPE },
          body: JSON.stringify({ prompt: 'via hub.test' }),
        });
        assert.equal(write.status, 200, write.text);
        // The loopback names keep working next to the listed ones.
        assert.equal((await send(port, 'GET', '/stats', { host: `localhost:${port}` })).status, 200);
        assertRefused(
          await send(port, 'GET', '/tasks', { host: `attacker.example:${port}` }),
          421,
          'host',
          /--allowed-hosts/,
        );
        // An allowed name does not make another site's page an allowed origin.
        assertRefused(
          await send(port, 'POST', '/tasks', {
            host: `hub.test:${port}`,
            headers: { origin: EVIL, ...JSON_TYPE },
            body: JSON.stringify({ prompt: 'sneaky' }),
          }),
          403,
          'origin',
          /evil\.example/,
        );
        assert.deepEqual(
          (await allTasks(port)).map((task) => task.prompt),
          ['via hub.test'],
        );
      }
      const other = await send(byFlag.restPort!, 'GET', '/stats', { host: 'other.example' });
      assert.equal(other.status, 200, other.text);
      assertRefused(
        await send(byEnv.restPort!, 'GET', '/stats', { host: 'other.example' }),
        421,
        'host',
        /--allowed-hosts/,
      );
    },
  );

  it('refuse a name with a scheme or port at start, saying how to write it', TEST_TIMEOUT, async () => {
    await assert.rejects(
      startHubProcess({ rest: true, args: ['--allowed-hosts', 'http://hub.test:8080'] }),
      /--allowed-hosts: "http:\/\/hub\.test:8080" is not a host name/,
    );
    await assert.rejects(
      startHubProcess({ rest: true, args: ['--allowed-hosts', 'hub.test:8080'] }),
      /without scheme or port/,
    );
  });
});

describe('REST: a hub on every interface (0.0.0.0, with its token)', () => {
  const TOKEN = 'wildcard-s3cret';
  const auth = { authorization: `Bearer ${TOKEN}` };
  let hub: HubProcess;
  let port: number;
  before(async () => {
    hub = await startHubProcess({ rest: true, args: ['--rest-host', '0.0.0.0', '--token', TOKEN] });
    port = hub.restPort!;
  });
  after(async () => {
    await hub?.stop();
  });

  it(
    'answers to IP addresses and loopback names, but a name only when listed, even with the token',
    TEST_TIMEOUT,
    async () => {
      for (const host of [
        `127.0.0.1:${port}`,
        `10.1.2.3:${port}`,
        `[fd00::5]:${port}`,
        `localhost:${port}`,
      ]) {
        const answer = await send(port, 'GET', '/stats', { host, headers: auth });
        assert.equal(answer.status, 200, `${host}: ${answer.text}`);
      }
      const rebound = await send(port, 'GET', '/stats', { host: `attacker.example:${port}`, headers: auth });
      assertRefused(rebound, 421, 'host', /--allowed-hosts/);
      assert.doesNotMatch(rebound.text, /queued/);
      assertRefused(
        await send(port, 'POST', '/tasks', {
          host: `10.1.2.3:${port}`,
          headers: { ...auth, origin: EVIL, 'content-type': 'text/plain' },
          body: JSON.stringify({ prompt: 'sneaky' }),
        }),
        403,
        'origin',
        /evil\.example/,
      );
      assert.deepEqual(await allTasks(port, TOKEN), []);
    },
  );
});
