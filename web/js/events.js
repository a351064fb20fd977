// The hub's event stream (GET /events, Server-Sent Events). EventSource cannot send an
// Authorization header, so the stream is read with fetch; it reconnects with backoff, and after
// every (re)connect `onOpen` runs so the page reloads what it may have missed meanwhile.
import { authHeaders } from './api.js';

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 10_000;

/**
 * `onState` gets 'connecting', 'live', 'reconnecting' or 'stopping' (the hub said it stops).
 * `path` is the stream to read: '/events' (task and agent events) unless a caller needs another
 * (the task detail's output panel asks for '/events?events=task&output=1').
 * Returns a function that ends the stream for good.
 */
export function followEvents({ onEvent, onOpen, onState = () => {}, onUnauthorized, path = '/events' }) {
  let stopped = false;
  let controller = null;
  let wake = null;

  const pause = (ms) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function run() {
    let retryMs = FIRST_RETRY_MS;
    let hubStopping = false;
    while (!stopped) {
      controller = new AbortController();
      onState('connecting');
      try {
        const response = await fetch(path, {
          headers: { accept: 'text/event-stream', ...authHeaders() },
          signal: controller.signal,
          cache: 'no-store',
        });
        if (response.status === 401) {
          onUnauthorized();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        onState('live');
        hubStopping = false;
        retryMs = FIRST_RETRY_MS;
        onOpen();
        await readMessages(response.body, (event) => {
          if (event.event === 'hub.stopping') hubStopping = true;
          onEvent(event);
        });
      } catch {
        // unreachable or cut off: try again below
      }
      if (stopped) return;
      onState(hubStopping ? 'stopping' : 'reconnecting');
      await pause(retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
  }

  void run();
  return () => {
    stopped = true;
    controller?.abort();
    wake?.();
  };
}

/** Calls `onMessage` with the parsed data of each SSE message; resolves when the stream ends. */
async function readMessages(body, onMessage) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += value.replaceAll('\r\n', '\n');
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data) {
        try {
          onMessage(JSON.parse(data));
        } catch {
          // a message that is not JSON is not one of the hub's: skip it
        }
      }
      end = buffer.indexOf('\n\n');
    }
  }
}
