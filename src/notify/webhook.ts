/**
 * A webhook target: each notification is POSTed as JSON (Node's built-in fetch). A 2xx answer
 * delivers it; a 408, 429 or 5xx, no answer within the timeout, or no connection at all are
 * worth retrying; any other answer (a 404, a 401) is a mistake in the URL or its setup.
 */
import type { Notification } from './events.ts';
import { SendError, type Sender } from './notifier.ts';

/** How long one POST may take, answer included. */
export const WEBHOOK_TIMEOUT_MS = 5000;

export function webhookSender(url: string, timeoutMs: number = WEBHOOK_TIMEOUT_MS): Sender {
  return {
    name: `webhook ${url}`,
    async send(notification: Notification, signal: AbortSignal): Promise<void> {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-mittelo-event': notification.event },
          body: JSON.stringify(notification),
          signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
          redirect: 'error',
        });
      } catch (error) {
        throw new SendError(describeFetchError(error, timeoutMs), true);
      }
      // Read the body so the connection can be reused; what it says does not matter.
      await response.arrayBuffer().catch(() => {});
      if (response.ok) return;
      const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
      throw new SendError(
        `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
        retryable,
      );
    },
  };
}

/** fetch's `TypeError: fetch failed` hides the cause: name it (ECONNREFUSED, ENOTFOUND, a timeout). */
function describeFetchError(error: unknown, timeoutMs: number): string {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  if (err?.name === 'AbortError') return 'stopped';
  const cause = err?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  if (cause?.message) return `${err.message}: ${cause.message}`; // e.g. "fetch failed: bad port"
  return err?.message ?? String(error);
}
