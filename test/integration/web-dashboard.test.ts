/**
 * The web dashboard (`/` on the hub's REST port) in real headless Chromium: a hub process with a
 * token, real agent processes, tasks enqueued over TCP and from the page. Checks the token prompt,
 * live updates without reloading (rows, counters, agents), filters and search, retry, cancel,
 * enqueue and the task detail, that the token never appears in a URL, and saves a screenshot to
 * test-artifacts/dashboard.png. Also: the header's hub address and version, a killed agent shown as
 * disconnected, a page opened later drawing the hub's history, the page at 420 px wide, and the
 * Spend panel (a backend's cost, tokens and budget, spent after budget_set) with a task's cost.
 *
 * Needs Debian's `chromium` (`npm test` installs it when root on Debian or Ubuntu; MITTELO_TEST_CHROMIUM
 * names another browser); without it this test fails rather than skips, saying what to install.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { chromiumMissing, chromiumPath } from '../../scripts/test-browser.mjs';
import { HubClient } from '../../src/client/hub-client.ts';
import { type CliProcess, startCli } from '../helpers/cli-process.ts';
import { HANG_GUARD_MS, type HubProcess, REPO_ROOT, startHubProcess } from '../helpers/hub-process.ts';

// The browser globals the functions run in the page use: this project is typed for Node, not the DOM.
interface PageElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  documentElement: { scrollWidth: number };
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};
declare const window: { notReloaded?: boolean; pwned?: boolean };

type OutputKind = 'text' | 'tool' | 'edit' | 'usage' | 'stdout' | 'stderr' | 'status';

/** What an agent does while its backend prints: the `output` method, as the holder of the lease. */
async function sendOutput(
  worker: HubClient,
  lease: { task_id: number; lease_token: string | null },
  lines: Array<{ kind: OutputKind; text: string }>,
): Promise<void> {
  await worker.output({
    task_id: lease.task_id,
    lease_token: lease.lease_token,
    worker_id: 'web-streamer',
    lines,
  });
}

const CHROMIUM = chromiumPath();
const TOKEN = 'dashboard-t0ken-s3cret';
/** A bound on waiting for the page (a hang guard, not a timing assertion). */
const WAIT_MS = HANG_GUARD_MS;
const SCREENSHOT = join(REPO_ROOT, 'test-artifacts', 'dashboard.png');

// The suite's bound is a hang guard too: room for a few WAIT_MS waits that fail, not a time budget.
describe('web dashboard in headless Chromium', { timeout: 600_000 }, () => {
  let hub: HubProcess;
  let client: HubClient;
  let browser: Browser | undefined;
  let page: Page;
  const agents: CliProcess[] = [];
  const requestUrls: string[] = [];
  const pageErrors: string[] = [];
  const ids: Record<string, number> = {};
  let echoAgent: CliProcess | undefined;

  /** Wait until `selector`'s text (trimmed) is `text`; on timeout say what was there instead. */
  async function waitForText(selector: string, text: string, timeoutMs = WAIT_MS): Promise<void> {
    try {
      await page.waitForFunction(
        ([sel, want]) => document.querySelector(sel!)?.textContent?.trim() === want,
        [selector, text],
        { timeout: timeoutMs },
      );
    } catch {
      const seen = await page
        .locator(selector)
        .first()
        .textContent({ timeout: 100 })
        .catch(() => '(no such element)');
      assert.fail(`${selector}: expected "${text}" within ${timeoutMs} ms, saw "${seen?.trim()}"`);
    }
  }

  const statusOf = (taskId: number) => `tr[data-task-id="${taskId}"] .status`;
  const counter = (status: string) => `.counter[data-status="${status}"] .counter-value`;

  function startAgent(workerId: string, backendArgs: string[]): CliProcess {
    const agent = startCli([
      'agent',
      ...backendArgs,
      '--worker-id',
      workerId,
      '--host',
      hub.host,
      '--port',
      String(hub.port),
      '--token',
      TOKEN,
    ]);
    agents.push(agent);
    return agent;
  }

  before(async () => {
    // scripts/test.mjs tried to install it, and says why it could not.
    assert.ok(existsSync(CHROMIUM), process.env.MITTELO_TEST_CHROMIUM_ERROR ?? chromiumMissing(CHROMIUM));
    hub = await startHubProcess({ rest: true, args: ['--token', TOKEN] });
    client = new HubClient({ host: hub.host, port: hub.port, token: TOKEN, reconnect: false });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox'],
      timeout: HANG_GUARD_MS,
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('request', (request) => requestUrls.push(request.url()));
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    for (const agent of agents) agent.kill();
    client?.close();
    await hub?.stop();
  });

  it('serves the page and its files without a token, with content types; 404 for anything else under /ui', async () => {
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${hub.restUrl}${path}`, { headers });
    const pageAnswer = await get('/');
    assert.equal(pageAnswer.status, 200);
    assert.match(pageAnswer.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(pageAnswer.headers.get('cache-control'), 'no-cache');
    assert.match(pageAnswer.headers.get('content-security-policy') ?? '', /script-src 'self' 'sha256-/);
    const html = await pageAnswer.text();
    assert.match(html, /<script type="importmap">\{"imports":\{"preact":"\/ui\/vendor\/preact\.mjs"/);
    assert.ok(
      !/https?:\/\//.test(html.replace(/xmlns="[^"]*"/g, '')),
      'the page loads nothing from elsewhere',
    );

    // The front-end libraries come from the installed packages, byte for byte.
    for (const [path, specifier] of [
      ['/ui/vendor/preact.mjs', 'preact'],
      ['/ui/vendor/preact-hooks.mjs', 'preact/hooks'],
      ['/ui/vendor/htm.mjs', 'htm'],
    ] as const) {
      const answer = await get(path);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.headers.get('content-type'), 'text/javascript; charset=utf-8', path);
      assert.equal(
        await answer.text(),
        readFileSync(fileURLToPath(import.meta.resolve(specifier)), 'utf8'),
        path,
      );
    }
    for (const [path, type] of [
      ['/ui/js/main.js', 'text/javascript; charset=utf-8'],
      ['/ui/app.css', 'text/css; charset=utf-8'],
      ['/ui/favicon.svg', 'image/svg+xml'],
    ]) {
      const answer = await get(path!);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.headers.get('content-type'), type, path);
      assert.equal(answer.headers.get('x-content-type-options'), 'nosniff', path);
      const etag = answer.headers.get('etag');
      assert.ok(etag, `${path} has an ETag`);
      assert.equal((await get(path!, { 'if-none-match': etag })).status, 304, `${path} revalidates`);
    }
    for (const path of [
      '/ui/nope.js',
      '/ui/index.html',
      '/ui/vendor/react.mjs',
      '/ui/js',
      '/ui/..%2fpackage.json',
    ]) {
      const answer = await get(path);
      assert.equal(answer.status, 404, path);
      assert.equal(((await answer.json()) as { code: string }).code, 'not_found', path);
    }
    // The data itself still needs the token.
    assert.equal((await get('/stats')).status, 401);
    assert.equal((await get('/stats', { authorization: `Bearer ${TOKEN}` })).status, 200);
  });

  it('asks for the token, refuses a wrong one, then shows the dashboard', async () => {
    await page.goto(`${hub.restUrl}/`);
    const tokenInput = page.locator('input[type="password"]');
    await tokenInput.fill('not-the-token');
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await page.getByText('The hub did not accept that token').waitFor();
    await tokenInput.fill(TOKEN);
    await page.getByRole('button', { name: 'Open the dashboard' }).click();
    await waitForText('[data-testid="connection"]', 'live');
    await waitForText(counter('total'), '0');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('mittelo.token')), TOKEN);
    // Marks this page load: a reload would lose it.
    await page.evaluate(() => {
      window.notReloaded = true;
    });
  });

  it("shows the hub's address and version in the header", async () => {
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
    await waitForText('[data-testid="hub-address"]', `tcp://${hub.host}:${hub.port}`);
    await waitForText('[data-testid="hub-version"]', `mittelo ${version}`);
  });

  it('shows a task enqueued over TCP, and turns it done live when an agent runs it', async () => {
    ids.echo = await client.enqueue('hello from the protocol');
    await waitForText(statusOf(ids.echo), 'queued');
    await waitForText(counter('queued'), '1');

    echoAgent = startAgent('web-echo', ['--backend', 'echo']);
    await waitForText(statusOf(ids.echo), 'done');
    await waitForText(counter('done'), '1');
    await waitForText(counter('queued'), '0');
    await waitForText('tr[data-worker-id="web-echo"] td[data-col="done"]', '1');
  });

  it('retries a failed task from the page: it goes back to the queue', async () => {
    ids.failing = await client.enqueue({ prompt: 'this one fails (exit 3)', backend: 'shell' });
    ids.alsoFailing = await client.enqueue({ prompt: 'this one fails too', backend: 'shell' });
    // Shell syntax, so it runs through /bin/sh (a bare `exit 3` would be looked up on PATH).
    const shell = startAgent('web-shell', [
      '--backend',
      'shell',
      '--shell-cmd',
      'echo "model server down" >&2; exit 3',
    ]);
    await waitForText(statusOf(ids.failing), 'failed');
    await waitForText(statusOf(ids.alsoFailing), 'failed');
    await waitForText(counter('failed'), '2');
    // Stop the failing agent, so the retried task stays queued for the check.
    shell.kill('SIGTERM');
    await shell.exit(WAIT_MS);

    await page.locator(`tr[data-task-id="${ids.failing}"] [data-action="retry"]`).click();
    await waitForText(statusOf(ids.failing), 'queued');
    await waitForText(counter('failed'), '1');
    assert.equal((await client.get(ids.failing)).status, 'queued');
    // Queued for shell, and the only shell agent is gone: the agents panel says so.
    await waitForText(
      '.idle-route[data-route="shell"]',
      'shell: 1 queued, no agent connected — start one with mittelo agent --backend shell',
    );
  });

  it('cancels a queued task from the page (after a confirming second click)', async () => {
    ids.cancel = await client.enqueue({ prompt: 'cancel me', backend: 'claude_code' });
    await waitForText(statusOf(ids.cancel), 'queued');
    // No claude_code agent: the agents panel says so (and the page below it has moved into place).
    await waitForText(
      '.idle-route[data-route="claude_code"]',
      'claude_code: 1 queued, no agent connected — start one with mittelo agent --backend claude_code',
    );
    const button = page.locator(`tr[data-task-id="${ids.cancel}"] [data-action="cancel"]`);
    await button.click();
    await waitForText(`tr[data-task-id="${ids.cancel}"] [data-action="cancel"]`, 'Confirm cancel');
    assert.equal((await client.get(ids.cancel)).status, 'queued', 'one click does not cancel');
    await button.click();
    await waitForText(statusOf(ids.cancel), 'canceled');
    await waitForText(counter('canceled'), '1');
    assert.equal((await client.get(ids.cancel)).status, 'canceled');
    // Nothing is queued for claude_code any more, so the line goes (before the next test clicks).
    await page.locator('.idle-route[data-route="claude_code"]').waitFor({ state: 'detached' });
  });

  it('enqueues a prompt from the form; the echo agent runs it', async () => {
    await page.locator('form.enqueue textarea[name="prompt"]').fill('written in the browser');
    await page.locator('form.enqueue button[type="submit"]').click();
    const notice = await page.locator('.notice', { hasText: 'enqueued' }).first().textContent();
    const match = /Task #(\d+) enqueued/.exec(notice ?? '');
    assert.ok(match, `a notice names the new task, got "${notice}"`);
    ids.fromPage = Number(match[1]);
    await waitForText(statusOf(ids.fromPage), 'done');
    assert.equal((await client.get(ids.fromPage)).result, 'echo:written in the browser');
  });

  it('filters by status and backend and searches prompts on the hub', async () => {
    const rowIds = () =>
      page.$$eval('tr[data-task-id]', (rows) => rows.map((row) => Number(row.getAttribute('data-task-id'))));
    const waitForRows = async (want: number[]) => {
      const sorted = [...want].sort((a, b) => b - a);
      await page
        .waitForFunction(
          (expected) =>
            JSON.stringify(
              Array.from(document.querySelectorAll('tr[data-task-id]')).map((r) =>
                Number(r.getAttribute('data-task-id')),
              ),
            ) === JSON.stringify(expected),
          sorted,
          { timeout: WAIT_MS },
        )
        .catch(async () => assert.deepEqual(await rowIds(), sorted));
    };

    await page.locator('input[name="search"]').fill('BROWSER');
    await waitForRows([ids.fromPage!]);
    await page.locator('input[name="search"]').fill('');
    await page.locator('select[name="status"]').selectOption('done');
    await waitForRows([ids.echo!, ids.fromPage!]);
    await page.locator('select[name="status"]').selectOption('');
    await page.locator('input[name="backend-filter"]').fill('shell');
    await waitForRows([ids.failing!, ids.alsoFailing!]);
    await page.locator('input[name="backend-filter"]').fill('');
    // A status counter filters too.
    await page.locator('.counter[data-status="canceled"]').click();
    await waitForRows([ids.cancel!]);
    await page.locator('.counter[data-status="total"]').click();
    await waitForRows(Object.values(ids));
  });

  it('opens a task detail with result, error kind and fix, attempts and duration', async () => {
    await page.locator(`tr[data-task-id="${ids.echo}"] td.prompt`).click();
    const detail = page.locator(`aside.detail[data-task-id="${ids.echo}"]`);
    await detail.locator('[data-field="result"]').waitFor();
    assert.equal(await detail.locator('[data-field="prompt"]').textContent(), 'hello from the protocol');
    assert.equal(await detail.locator('[data-field="result"]').textContent(), 'echo:hello from the protocol');
    assert.match((await detail.locator('[data-field="attempts"]').textContent()) ?? '', /^1 of 1/);
    assert.match((await detail.locator('[data-field="duration"]').textContent()) ?? '', /\d+(\.\d)? (ms|s)/);

    await page.locator(`tr[data-task-id="${ids.alsoFailing}"] td.prompt`).click();
    const failed = page.locator(`aside.detail[data-task-id="${ids.alsoFailing}"]`);
    await failed.locator('[data-field="error"]').waitFor();
    const stored = await client.get(ids.alsoFailing!);
    assert.ok(stored.error, 'the failed task has an error');
    assert.equal((await failed.locator('[data-field="error"]').textContent())?.trim(), stored.error.trim());
    if (stored.error_kind) {
      assert.equal(await failed.locator('[data-field="error-kind"]').textContent(), stored.error_kind);
    }
    if (stored.error_fix)
      assert.match((await failed.locator('[data-field="fix"]').textContent()) ?? '', /Fix:/);
    await failed.locator('[data-action="retry"]').waitFor();
  });

  it('shows an unhealthy agent with the reason and the fix', async () => {
    startAgent('web-broken', ['--backend', 'shell', '--shell-cmd', 'no-such-program-for-mittelo']);
    const row = 'tr[data-worker-id="web-broken"]';
    await waitForText(`${row} .health`, 'unhealthy');
    assert.match(
      (await page.locator(`${row} .reason`).textContent()) ?? '',
      /no-such-program-for-mittelo is not on PATH/,
    );
    assert.match((await page.locator(`${row} .fix`).textContent()) ?? '', /^Fix: install it/);
    // The retried shell task is still queued, and its one agent cannot take it.
    await waitForText(
      '.idle-route[data-route="shell"]',
      'shell: 1 queued, no healthy agent (1 unhealthy) — fix it, or start one with mittelo agent --backend shell',
    );
  });

  it('shows a killed agent as disconnected, with since when, not as healthy', async () => {
    const row = 'tr[data-worker-id="web-echo"]';
    await waitForText(`${row} .health`, 'healthy');
    echoAgent!.kill('SIGKILL');
    await echoAgent!.exit(WAIT_MS);
    await waitForText(`${row} .health`, 'disconnected');
    assert.match(
      (await page.locator(`${row} .since`).textContent()) ?? '',
      /^since \S.* \((just now|\d+ s ago)\)$/,
    );
    const [listed] = (await client.agents()).filter((agent) => agent.worker_id === 'web-echo');
    assert.equal(listed?.connected, false);
    assert.equal(typeof listed?.disconnected_at, 'number');
  });

  it('shows a pause with its reason and a scheduled task; Resume on the page lifts the pause', async () => {
    await client.pause({ backend: 'claude_code', reason: 'quota used up' });
    const pause = '.queue-control .pause[data-pause="claude_code"]';
    await page.locator(pause).waitFor();
    assert.match(
      (await page.locator(pause).textContent()) ?? '',
      /^claude_code paused \(quota used up\), since \d\d:\d\d\s*Resume$/,
    );
    ids.scheduled = await client.enqueue({ prompt: 'not before an hour from now', delay_s: 3600 });
    await waitForText(statusOf(ids.scheduled), 'scheduled');
    await waitForText('[data-testid="scheduled"]', '1 queued task is scheduled: not due yet');
    assert.equal((await client.get(ids.scheduled)).status, 'queued', 'on the wire it is queued');

    await page.locator(`${pause} button`, { hasText: 'Resume' }).click();
    await page.locator(pause).waitFor({ state: 'detached' });
    assert.deepEqual(await client.pauses(), []);
  });

  it('shows a cap on leasing set through the client, and drops it when the cap is cleared', async () => {
    // A tag no task here carries: nothing is leased under it, so the line stays as written.
    await client.setLimit({ scope: 'tag:web-cap', concurrency: 2, rate_per_min: 20 });
    const cap = '.queue-control .limits .limit[data-limit="tag:web-cap"]';
    await waitForText(cap, 'tag:web-cap: 0/2 leased, 0 started in the last minute (cap 2, 20/min)');
    assert.equal(await client.clearLimit('tag:web-cap'), true);
    await page.locator(cap).waitFor({ state: 'detached' });
  });

  it("shows a backend's spend today, the task's cost and tokens, and a budget: then spent once budget_set puts it under", async () => {
    // A backend no agent here runs: the test leases and acks as that backend's agent, so the sums are known.
    const worker = new HubClient({
      host: hub.host,
      port: hub.port,
      token: TOKEN,
      reconnect: false,
      workerId: 'web-spender',
      backend: 'web-spend',
    });
    try {
      ids.spendReported = await client.enqueue({ prompt: 'spend: reported', backend: 'web-spend' });
      ids.spendEstimated = await client.enqueue({ prompt: 'spend: estimated', backend: 'web-spend' });
      ids.spendUnknown = await client.enqueue({ prompt: 'spend: unknown', backend: 'web-spend' });
      const { tasks } = await worker.lease({ worker_id: 'web-spender', backend: 'web-spend', max_tasks: 3 });
      assert.equal(tasks.length, 3);
      const token = (taskId: number) => tasks.find((task) => task.task_id === taskId)?.lease_token ?? null;
      const ack = { status: 'done' as const, worker_id: 'web-spender', result: 'ok' };
      // Each CLI names its token counts its own way: Claude Code's, then an OpenAI-style CLI's.
      await worker.ack({
        ...ack,
        task_id: ids.spendReported,
        lease_token: token(ids.spendReported),
        cost_usd: 0.75,
        usage: { input_tokens: 12_000, output_tokens: 3400, cache_read_input_tokens: 50_000 },
      });
      await worker.ack({
        ...ack,
        task_id: ids.spendEstimated,
        lease_token: token(ids.spendEstimated),
        cost_usd: 0.5,
        cost_basis: 'estimated',
        usage: { prompt_tokens: 1000, completion_tokens: 200 },
      });
      await worker.ack({
        ...ack,
        task_id: ids.spendUnknown,
        lease_token: token(ids.spendUnknown),
        cost_basis: 'unknown',
        usage: { input_tokens: 10, output_tokens: 5 },
      });

      const row = '.spend tr[data-backend="web-spend"]';
      await waitForText(`${row} .tasks`, '3');
      await waitForText(`${row} .tokens`, '13k in / 3.6k out (+50k cache)');
      await waitForText(`${row} .cost`, '$1.25 est. · 1 unknown');
      await waitForText(`${row} .budget`, 'no budget');

      await page.locator(`tr[data-task-id="${ids.spendReported}"] td.prompt`).click();
      const detail = page.locator(`aside.detail[data-task-id="${ids.spendReported}"]`);
      await detail.locator('[data-field="cost"]').waitFor();
      assert.equal(await detail.locator('[data-field="cost"]').textContent(), '$0.7500 (reported)');
      assert.equal(
        await detail.locator('[data-field="tokens"]').textContent(),
        '12k in · 3.4k out · 50k cache read',
      );
      await page.locator(`tr[data-task-id="${ids.spendEstimated}"] td.prompt`).click();
      await waitForText(
        `aside.detail[data-task-id="${ids.spendEstimated}"] [data-field="tokens"]`,
        '1k in · 200 out',
      );
      await waitForText(
        `aside.detail[data-task-id="${ids.spendEstimated}"] [data-field="cost"]`,
        '$0.5000 (estimated)',
      );
      await page.getByRole('button', { name: 'Close the task detail' }).click();

      // A budget set elsewhere sends no event: the panel's poll finds it.
      await client.setBudget({ backend: 'web-spend', usd_per_day: 20 });
      await waitForText(`${row} .budget-text`, '$1.25 of $20.00 today');
      await client.setBudget({ backend: 'web-spend', usd_per_day: 1 });
      const [state] = (await client.budgets()).filter((budget) => budget.backend === 'web-spend');
      assert.equal(state?.exhausted, true, 'the hub says it is spent');
      await page.locator(`${row} .budget.exhausted`).waitFor();
      assert.match(
        (await page.locator(`${row} .budget-text`).textContent()) ?? '',
        /^budget spent — leasing again at \d\d:\d\d$/,
      );
      // The element's value, not its attribute: a meter holds its value within max.
      const bar = await page.locator(`${row} meter`).evaluate((element) => {
        const meter = element as unknown as { value: number; max: number };
        return [meter.value, meter.max];
      });
      assert.deepEqual(bar, [1, 1], 'the bar is full');

      assert.equal(await client.clearBudget('web-spend'), true);
      await waitForText(`${row} .budget`, 'no budget');
    } finally {
      worker.close();
    }
  });

  it("follows a running task's output live in its detail: labelled, newest at the bottom, kept once done", async () => {
    // The agent's side done by hand: lease, then send output lines as an agent's backend would.
    const worker = new HubClient({
      host: hub.host,
      port: hub.port,
      token: TOKEN,
      reconnect: false,
      workerId: 'web-streamer',
      backend: 'web-stream',
    });
    try {
      ids.streaming = await client.enqueue({ prompt: 'stream some output', backend: 'web-stream' });
      const { tasks } = await worker.lease({ worker_id: 'web-streamer', backend: 'web-stream' });
      const lease = tasks[0]!;
      assert.equal(lease.task_id, ids.streaming);
      const say = (lines: Array<{ kind: OutputKind; text: string }>) => sendOutput(worker, lease, lines);
      await say([
        { kind: 'status', text: 'started' },
        // Untrusted text: markup in it must show as the characters it is.
        { kind: 'text', text: '<b>not bold</b> <img src=x onerror="window.pwned = true">' },
      ]);

      await page.locator(`tr[data-task-id="${ids.streaming}"] td.prompt`).click();
      const detail = page.locator(`aside.detail[data-task-id="${ids.streaming}"]`);
      const panel = detail.locator('[data-field="output"]');
      const last = `aside.detail[data-task-id="${ids.streaming}"] .output-line:last-child .output-text`;
      await waitForText(last, '<b>not bold</b> <img src=x onerror="window.pwned = true">');
      assert.deepEqual(await panel.locator('.output-kind').allTextContents(), ['status', 'text']);
      assert.equal(await panel.locator('.output-lines b, .output-lines img').count(), 0);
      assert.equal(await page.evaluate(() => window.pwned), undefined);
      await panel.locator('.live-dot').waitFor();

      // Printed while the detail is open: it appears without a reload, at the bottom.
      await say([{ kind: 'tool', text: 'Bash: npm test' }]);
      await waitForText(last, 'Bash: npm test');
      assert.equal(await panel.locator('.output-line:last-child .output-kind').textContent(), 'tool');

      // More than the box shows: it keeps to the bottom...
      await say(Array.from({ length: 60 }, (_, i) => ({ kind: 'stdout' as const, text: `line ${i + 1}` })));
      await waitForText(last, 'line 60');
      const box = panel.locator('.output-lines');
      const gapToBottom = () =>
        box.evaluate((element) => {
          const e = element as unknown as { scrollHeight: number; scrollTop: number; clientHeight: number };
          return e.scrollHeight - e.scrollTop - e.clientHeight;
        });
      await page
        .waitForFunction((selector) => {
          const e = document.querySelector(selector) as unknown as {
            scrollHeight: number;
            scrollTop: number;
            clientHeight: number;
          } | null;
          return (
            e !== null &&
            e.scrollHeight > e.clientHeight &&
            e.scrollHeight - e.scrollTop - e.clientHeight <= 24
          );
        }, `aside.detail[data-task-id="${ids.streaming}"] .output-lines`)
        .catch(async () =>
          assert.fail(`the output box is not at its bottom (${await gapToBottom()} px above it)`),
        );
      // ...unless the person scrolled up to read: then new lines leave it where it is.
      await box.evaluate((element) => {
        const e = element as unknown as { scrollTop: number; dispatchEvent(event: unknown): void };
        e.scrollTop = 0;
        e.dispatchEvent(new Event('scroll'));
      });
      await say([{ kind: 'text', text: 'after scrolling up' }]);
      await waitForText(last, 'after scrolling up');
      assert.equal(
        await box.evaluate((element) => (element as unknown as { scrollTop: number }).scrollTop),
        0,
      );
      assert.equal(await panel.locator('.output-line').count(), 64);

      // Done: the panel stops following and keeps showing what the hub kept.
      await worker.ack({
        task_id: lease.task_id,
        lease_token: lease.lease_token,
        worker_id: 'web-streamer',
        status: 'done',
        result: 'streamed',
      });
      await waitForText(`aside.detail[data-task-id="${ids.streaming}"] .panel-head .status`, 'done');
      await panel.locator('.live-dot').waitFor({ state: 'detached' });
      assert.equal(await panel.locator('.output-line').count(), 64);
      const tail = await worker.outputTail(lease.task_id);
      assert.equal(tail.last_seq, 64, 'the hub kept every line');
      assert.deepEqual(await panel.locator('.output-line').first().getAttribute('data-seq'), '1');
      assert.equal(await panel.locator('[data-testid="output-lost"]').count(), 0, 'nothing was lost');

      // A finished task opened afresh shows the kept lines too.
      await page.getByRole('button', { name: 'Close the task detail' }).click();
      await page.locator(`tr[data-task-id="${ids.streaming}"] td.prompt`).click();
      await waitForText(last, 'after scrolling up');
      assert.equal(await panel.locator('.output-line').count(), 64);
      await page.getByRole('button', { name: 'Close the task detail' }).click();

      // More lines than the hub keeps of a task: the panel says how many earlier ones are gone.
      ids.chatty = await client.enqueue({ prompt: 'print a lot', backend: 'web-stream' });
      const chatty = (await worker.lease({ worker_id: 'web-streamer', backend: 'web-stream' })).tasks[0]!;
      assert.equal(chatty.task_id, ids.chatty);
      for (let start = 0; start < 700; start += 200) {
        await sendOutput(
          worker,
          chatty,
          Array.from({ length: Math.min(200, 700 - start) }, (_, i) => ({
            kind: 'stdout' as const,
            text: `chatty ${start + i + 1}`,
          })),
        );
      }
      await worker.ack({
        task_id: chatty.task_id,
        lease_token: chatty.lease_token,
        worker_id: 'web-streamer',
        status: 'done',
        result: 'printed',
      });
      const kept = await worker.outputTail(chatty.task_id);
      const firstKept = kept.lines[0]!.seq;
      assert.ok(
        firstKept > 1 && kept.lost >= firstKept - 1,
        `the hub dropped the oldest lines: ${kept.lost} lost`,
      );
      await page.locator(`tr[data-task-id="${ids.chatty}"] td.prompt`).click();
      const chattyPanel = page.locator(`aside.detail[data-task-id="${ids.chatty}"] [data-field="output"]`);
      await waitForText(
        `aside.detail[data-task-id="${ids.chatty}"] [data-testid="output-lost"]`,
        `${(firstKept - 1).toLocaleString('en')} earlier lines not kept`,
      );
      assert.equal(await chattyPanel.locator('.output-line').count(), kept.lines.length);
      assert.equal(
        await chattyPanel.locator('.output-line').first().getAttribute('data-seq'),
        String(firstKept),
      );
      await page.getByRole('button', { name: 'Close the task detail' }).click();
    } finally {
      worker.close();
    }
  });

  it("shows a worktree task's change: the list's badge opens the detail at its diff, shown as text", async () => {
    // The agent's side done by hand: lease as a worktree agent would, and ack with the change it made.
    const worker = new HubClient({
      host: hub.host,
      port: hub.port,
      token: TOKEN,
      reconnect: false,
      workerId: 'web-worktree',
      backend: 'web-worktree',
    });
    try {
      ids.worktree = await client.enqueue({
        prompt: 'edit the parser in a worktree',
        backend: 'web-worktree',
        workspace: 'worktree',
        base_ref: 'main',
        permissions: 'edit',
      });
      const { tasks } = await worker.lease({ worker_id: 'web-worktree', backend: 'web-worktree' });
      assert.equal(tasks[0]?.task_id, ids.worktree);
      // Untrusted text: a diff line that is markup must show as the characters it is.
      const diff = [
        'diff --git a/src/parser.ts b/src/parser.ts',
        '--- a/src/parser.ts',
        '+++ b/src/parser.ts',
        '@@ -1,2 +1,3 @@',
        ' export const parser = 1;',
        '-const old = "<b>bold</b>";',
        '+const html = "<script>window.pwned = true</script>";',
        '+<img src=x onerror="window.pwned = true">',
        '',
      ].join('\n');
      const worktree = {
        branch: `mittelo/task-${ids.worktree}-web`,
        path: `/repo/.mittelo/worktrees/task-${ids.worktree}-web`,
        base_ref: 'main',
        base_commit: 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2',
        commit: 'f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed',
        files_changed: 1,
        insertions: 2,
        deletions: 1,
        diff,
        diff_bytes: 300_000,
        diff_truncated: true,
        diff_cap_bytes: 262_144,
        kept: false,
      };
      // A variable, not a literal: the client's ack type may not list `worktree` yet.
      const ack = {
        task_id: ids.worktree,
        lease_token: tasks[0]!.lease_token,
        worker_id: 'web-worktree',
        status: 'done' as const,
        result: 'edited',
        session_id: 'sess-web-42',
        worktree,
      };
      await worker.ack(ack);
      assert.equal((await client.get(ids.worktree)).worktree?.commit, worktree.commit, 'the hub stored it');

      const row = `tr[data-task-id="${ids.worktree}"]`;
      await waitForText(`${row} [data-action="diff"]`, '+2 −1');
      // A task without a change has no badge in the same column.
      assert.equal(await page.locator(`tr[data-task-id="${ids.echo}"] [data-action="diff"]`).count(), 0);
      await page.locator(`${row} [data-action="diff"]`).click();
      const detail = page.locator(`aside.detail[data-task-id="${ids.worktree}"]`);
      await detail.locator('[data-field="diff"]').waitFor();
      assert.equal(await detail.locator('[data-field="branch"]').textContent(), worktree.branch);
      assert.match(
        (await detail.locator('[data-field="commit"]').textContent()) ?? '',
        /^f00dfeedf00d on main \(a1b2c3d4e5f6\)$/,
      );
      assert.equal(await detail.locator('[data-field="change"]').textContent(), '+2 −1 in 1 file');
      assert.match(
        (await detail.locator('[data-field="diff-size"]').textContent()) ?? '',
        /^293\.0 KiB — cut: the hub keeps the first 256\.0 KiB$/,
      );
      await detail.locator('[data-field="diff-cut-note"]').waitFor();
      assert.equal(await detail.locator('[data-field="workspace"]').textContent(), 'worktree from main');
      assert.equal(await detail.locator('[data-field="permissions"]').textContent(), 'edit');
      assert.equal(await detail.locator('[data-field="session-id"]').textContent(), 'sess-web-42');
      // The diff as text: every line, the markup in it inert (no element made, nothing run).
      assert.equal(await detail.locator('[data-field="diff"]').textContent(), diff);
      assert.equal(
        await detail
          .locator('[data-field="diff"] script, [data-field="diff"] img, [data-field="diff"] b')
          .count(),
        0,
      );
      assert.equal(await page.evaluate(() => window.pwned), undefined);
      assert.deepEqual(
        await detail
          .locator('[data-field="diff"] > span')
          .evaluateAll((spans) => spans.map((span) => (span as unknown as { className: string }).className)),
        [
          'diff-file',
          'diff-file',
          'diff-file',
          'diff-hunk',
          'diff-context',
          'diff-del',
          'diff-add',
          'diff-add',
        ],
      );
      // The badge brought the Diff section into view, open.
      assert.equal(await detail.locator('[data-field="diff-section"]').getAttribute('open'), '');
      assert.ok(await detail.locator('[data-field="diff"]').isVisible());
      // Collapsible: a click on its summary folds it.
      await detail.locator('[data-field="diff-section"] summary').click();
      await detail.locator('[data-field="diff"]').waitFor({ state: 'hidden' });
      await detail.locator('[data-field="diff-section"] summary').click();
      await detail.locator('[data-field="diff"]').waitFor({ state: 'visible' });
    } finally {
      worker.close();
    }
  });

  it('never reloaded, never put the token in a URL, threw no errors; saves a screenshot', async () => {
    assert.equal(await page.evaluate(() => window.notReloaded), true);
    const leaked = requestUrls.filter((url) => url.includes(TOKEN) || /token=/i.test(url));
    assert.deepEqual(leaked, [], 'the token never appears in a URL');
    assert.ok(
      requestUrls.every((url) => url.startsWith(hub.restUrl!)),
      `every request goes to the hub (no CDN): ${requestUrls.filter((url) => !url.startsWith(hub.restUrl!))}`,
    );
    assert.ok(!hub.stderr().includes(TOKEN), 'the hub did not log the token');
    assert.deepEqual(pageErrors, []);
    mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
    // Let the notices fade, so the screenshot shows the dashboard itself.
    await page.waitForFunction(() => document.querySelectorAll('.notice').length === 0, null, {
      timeout: WAIT_MS,
    });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT));
  });

  it('a page opened now draws the history of tasks finished before, and fits a 420 px screen', async () => {
    const history = (await (
      await fetch(`${hub.restUrl}/stats/history?minutes=60`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as { minutes: Array<{ done: number; failed: number }> };
    const finished = history.minutes.reduce((sum, minute) => sum + minute.done + minute.failed, 0);
    const stats = await client.stats();
    assert.ok(finished >= stats.done + stats.failed && finished > 0, `history counts ${finished} finished`);

    const context = await browser!.newContext({ viewport: { width: 420, height: 900 } });
    try {
      const fresh = await context.newPage();
      fresh.setDefaultTimeout(WAIT_MS);
      fresh.on('pageerror', (error) => pageErrors.push(error.message));
      await fresh.goto(`${hub.restUrl}/`);
      await fresh.locator('input[type="password"]').fill(TOKEN);
      await fresh.getByRole('button', { name: 'Open the dashboard' }).click();
      await fresh.waitForFunction(
        (want) => document.querySelector('[data-testid="finished"]')?.textContent?.trim() === want,
        finished.toLocaleString('en'),
      );
      // Drawn, not only counted: the finished line rises above the baseline somewhere.
      const points = (await fresh.locator('polyline.line-total').getAttribute('points')) ?? '';
      const heights = points.split(' ').map((point) => Number(point.split(',')[1]));
      assert.ok(
        heights.some((y) => y < 100),
        `the line is flat: ${points.slice(0, 200)}`,
      );
      await fresh.locator('[data-testid="history-since"]').waitFor();

      // At 420 px nothing makes the page scroll sideways: tables scroll in their own box, controls wrap.
      await fresh.locator('tr[data-task-id]').first().waitFor();
      const pageWidth = () => fresh.evaluate(() => document.documentElement.scrollWidth);
      assert.ok((await pageWidth()) <= 420, `the page is ${await pageWidth()} px wide`);
      await fresh.locator('tr[data-task-id] td.prompt').first().click();
      await fresh.locator('aside.detail [data-field="prompt"]').waitFor();
      assert.ok((await pageWidth()) <= 420, `with a task open the page is ${await pageWidth()} px wide`);
      const enqueue = await fresh.locator('form.enqueue button[type="submit"]').boundingBox();
      assert.ok(enqueue && enqueue.x + enqueue.width <= 420, 'the enqueue button is on screen');
      mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
      await fresh.screenshot({
        path: join(REPO_ROOT, 'test-artifacts', 'dashboard-420px.png'),
        fullPage: true,
      });
    } finally {
      await context.close();
    }
  });

  it('stays fast with 100,000 tasks: counts, pages and searches on the hub', async () => {
    const before = Object.keys(ids).length;
    for (let start = 0; start < 100_000; start += 10_000) {
      await client.enqueueMany(
        Array.from({ length: 10_000 }, (_, i) => ({ prompt: `bulk task ${start + i}`, backend: 'nobody' })),
      );
    }
    const total = (100_000 + before).toLocaleString('en');
    await waitForText(counter('total'), total);
    await waitForText(
      '.idle-route[data-route="nobody"]',
      'nobody: 100,000 queued, no agent connected — start one with mittelo agent --backend nobody',
    );
    await page.locator('.counter[data-status="queued"]').click();
    const queued = (await client.stats()).queued.toLocaleString('en');
    await waitForText('[data-testid="page-info"]', `1–50 of ${queued}`);
    await page.locator('section.tasks[aria-busy="false"]').waitFor();
    assert.equal(await page.locator('tr[data-task-id]').count(), 50);

    let started = Date.now();
    await page.getByRole('button', { name: 'Older →' }).click();
    await waitForText('[data-testid="page-info"]', `51–100 of ${queued}`);
    await page.locator('section.tasks[aria-busy="false"]').waitFor();
    assert.equal(await page.locator('tr[data-task-id]').count(), 50);
    const firstOnPage2 = Number(await page.locator('tr[data-task-id]').first().getAttribute('data-task-id'));
    assert.equal(firstOnPage2, 100_000 + before - 50, 'page 2 starts right after page 1');
    assert.ok(Date.now() - started < 5000, `the next page took ${Date.now() - started} ms`);

    started = Date.now();
    await page.locator('input[name="search"]').fill('bulk task 76543');
    await page.waitForFunction(() => document.querySelectorAll('tr[data-task-id]').length === 1);
    assert.match((await page.locator('tr[data-task-id] td.prompt').textContent()) ?? '', /bulk task 76543$/);
    assert.ok(Date.now() - started < 5000, `the search took ${Date.now() - started} ms`);
    assert.deepEqual(pageErrors, []);
  });
});
