/**
 * A no-op hub for calibration: answers enqueue, lease, ack and stats from memory, with no
 * validation, no database and no durability. hubload against it measures the floor this machine
 * and this load generator reach at all (client, kernel, and two processes sharing 2 cores), so a
 * hub figure can be read as "the floor minus what the hub costs". Not a hub: never use it as one.
 *
 *   node bench/lib/stub-hub.ts     prints MITTELO_HUB tcp://127.0.0.1:<port>
 */
import net from 'node:net';

interface StubTask {
  task_id: number;
  prompt: string;
}

function serve(): void {
  const queued: StubTask[] = [];
  const counts = { queued: 0, leased: 0, done: 0, failed: 0, canceled: 0 };
  let nextId = 1;

  const answer = (method: string, params: Record<string, unknown>): unknown => {
    switch (method) {
      case 'enqueue': {
        const task = { task_id: nextId++, prompt: String(params.prompt) };
        queued.push(task);
        counts.queued += 1;
        return { task_id: task.task_id };
      }
      case 'lease': {
        const tasks = queued.splice(0, Number(params.max_tasks) || 1);
        counts.queued -= tasks.length;
        counts.leased += tasks.length;
        return { tasks: tasks.map((task) => ({ ...task, status: 'leased', lease_token: 'stub' })) };
      }
      case 'ack':
        counts.leased -= 1;
        counts.done += 1;
        return { ok: true, status: 'done', requeued: false };
      case 'stats':
        return { stats: { ...counts } };
      default:
        throw new Error(`the stub hub does not know ${method}`);
    }
  };

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    let buffer = '';
    socket.on('data', (text: string) => {
      buffer += text;
      for (let newline = buffer.indexOf('\n'); newline !== -1; newline = buffer.indexOf('\n')) {
        const request = JSON.parse(buffer.slice(0, newline)) as {
          id: unknown;
          method: string;
          params?: Record<string, unknown>;
        };
        buffer = buffer.slice(newline + 1);
        let reply: object;
        try {
          reply = { id: request.id, result: answer(request.method, request.params ?? {}), error: null };
        } catch (error) {
          reply = {
            id: request.id,
            result: null,
            error: { code: 'internal', message: (error as Error).message },
          };
        }
        socket.write(`${JSON.stringify(reply)}\n`);
      }
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as net.AddressInfo;
    process.stdout.write(`MITTELO_HUB tcp://127.0.0.1:${port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

if (import.meta.main) serve();
