/**
 * A stand-in for the Python v0.1 hub, for testing that our agent still works against one: the
 * v0.1 methods only (enqueue, lease, ack, list, stats), no `hello`, no long-poll, and errors as
 * v0.1 sent them ({"message": ...} with no code). Real TCP; tasks kept in memory (it is a test
 * double of a remote peer, not a product store).
 */
import net from 'node:net';

interface V01Task {
  task_id: number;
  prompt: string;
  status: 'queued' | 'leased' | 'done' | 'failed';
  result: string | null;
  error: string | null;
  worker_id: string | null;
}

export interface V01Hub {
  port: number;
  tasks: V01Task[];
  /** Every request received, in order (method and params). */
  requests: Array<{ method: string; params: Record<string, unknown> }>;
  enqueue(prompt: string): number;
  close(): Promise<void>;
}

export async function startV01Hub(): Promise<V01Hub> {
  const tasks: V01Task[] = [];
  const requests: V01Hub['requests'] = [];
  const sockets = new Set<net.Socket>();
  const enqueue = (prompt: string) => {
    const task: V01Task = {
      task_id: tasks.length + 1,
      prompt,
      status: 'queued',
      result: null,
      error: null,
      worker_id: null,
    };
    tasks.push(task);
    return task.task_id;
  };
  const dispatch = (method: string, params: Record<string, unknown>): unknown => {
    switch (method) {
      case 'enqueue':
        return { task_id: enqueue(String(params.prompt)) };
      case 'lease': {
        const leased = tasks.filter((t) => t.status === 'queued').slice(0, Number(params.max_tasks || 1));
        for (const task of leased) {
          task.status = 'leased';
          task.worker_id = String(params.worker_id ?? 'worker');
        }
        return { tasks: leased.map((t) => ({ ...t })) };
      }
      case 'ack': {
        const task = tasks[Number(params.task_id) - 1];
        if (!task) throw new Error(`task ${params.task_id} not found`);
        task.status = params.status === 'done' ? 'done' : 'failed';
        task.result = (params.result as string | null) ?? null;
        task.error = (params.error as string | null) ?? null;
        return { ok: true };
      }
      case 'list':
        return { tasks: tasks.map((t) => ({ ...t })), stats: {} };
      case 'stats':
        return { stats: {} };
      default:
        throw new Error(`Unknown method: ${method}`);
    }
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    socket.setEncoding('utf8').on('data', (text: string) => {
      buffer += text;
      let newline = buffer.indexOf('\n');
      while (newline !== -1) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
        if (!line.trim()) continue;
        let id: unknown = null;
        try {
          const request = JSON.parse(line) as {
            id?: unknown;
            method: string;
            params?: Record<string, unknown>;
          };
          id = request.id ?? null;
          requests.push({ method: request.method, params: request.params ?? {} });
          const result = dispatch(request.method, request.params ?? {});
          socket.write(`${JSON.stringify({ id, result, error: null })}\n`);
        } catch (error) {
          socket.write(
            `${JSON.stringify({ id, result: null, error: { message: (error as Error).message } })}\n`,
          );
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    tasks,
    requests,
    enqueue,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
