/**
 * `GET /events`: hub events as a Server-Sent Events stream. Each event is one SSE message,
 * `event: <name>` and `data: <the event as JSON>`; a comment line every 15 s keeps proxies from
 * closing an idle stream. The stream ends after `hub.stopping`, when the client goes away, or
 * when the server closes; a client that stops reading is cut off rather than buffered forever.
 */
import type { HubEvent } from '../../protocol/model.ts';
import type { EventCategory } from '../events.ts';
import type { Hub } from '../hub.ts';

export const SSE_HEARTBEAT_MS = 15_000;
/** Same bound as a TCP subscriber's backlog. */
const MAX_BACKLOG_BYTES = 16 * 1024 * 1024;

/** The streams open now, so the server can end them when it closes. */
export type OpenStreams = Set<() => void>;

export function eventStreamResponse(
  hub: Hub,
  categories: EventCategory[],
  openStreams: OpenStreams,
): Response {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let finished = false;

  const finish = (how: 'close' | 'cut_off' | 'client_gone') => {
    if (finished) return;
    finished = true;
    unsubscribe();
    clearInterval(heartbeat);
    openStreams.delete(end);
    if (how === 'close') controller.close();
    if (how === 'cut_off') controller.error(new Error('SSE client reads too slowly'));
  };
  const end = () => finish('close');
  const send = (text: string) => {
    if (finished) return;
    // desiredSize goes negative by the bytes queued beyond the high-water mark.
    if ((controller.desiredSize ?? 0) < -MAX_BACKLOG_BYTES) return finish('cut_off');
    controller.enqueue(encoder.encode(text));
  };

  const body = new ReadableStream<Uint8Array>(
    {
      start: (c) => {
        controller = c;
      },
      cancel: () => finish('client_gone'),
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
  const unsubscribe = hub.subscribe(categories, (event: HubEvent) => {
    // JSON.stringify escapes newlines, so the data is always a single `data:` line.
    send(`event: ${event.event}\ndata: ${JSON.stringify(event)}\n\n`);
    if (event.event === 'hub.stopping') end();
  });
  const heartbeat = setInterval(() => send(': heartbeat\n\n'), SSE_HEARTBEAT_MS);
  heartbeat.unref();
  openStreams.add(end);
  // A first line at once, so the client sees the stream open (and headers are flushed now).
  send(`: subscribed to ${categories.join(',')}\n\n`);

  return new Response(body, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // Reverse proxies (nginx) would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    },
  });
}
