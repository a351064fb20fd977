/**
 * Start and stop the hub's REST API (`mittelo hub --rest-port`): the Hono app of routes.ts on a
 * Node HTTP server, or HTTPS when the hub has a certificate (`--tls-cert`, `--tls-key`). Listen
 * errors reject with Node's own error; start-hub.ts turns them into a message naming the cause
 * and the fix.
 */
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Hub } from '../hub.ts';
import { createRestApp } from './routes.ts';
import type { OpenStreams } from './sse.ts';

export interface RestServerOptions {
  host: string;
  port: number;
  token?: string | undefined;
  /** Host names accepted besides those of `host` (--allowed-hosts; see request-guard.ts). */
  allowedHosts?: readonly string[] | undefined;
  /** Largest request body accepted (413 `too_large` beyond); default 1 MiB, as a TCP line. */
  maxBodyBytes?: number | undefined;
  /** Log an unexpected error; bad input is the client's business and is not logged. */
  onInternalError?: ((error: unknown) => void) | undefined;
  /** Serve HTTPS with this certificate and key (PEM; checked by ../tls.ts). */
  tls?: { cert: string; key: string } | undefined;
}

export interface RunningRestServer {
  address: AddressInfo;
  /** Stop accepting, end event streams, and close every connection within a bounded time. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** A client that neither finishes nor reads its answer holds the close no longer than this. */
const CLOSE_GRACE_MS = 2000;

export async function startRestServer(hub: Hub, options: RestServerOptions): Promise<RunningRestServer> {
  const openStreams: OpenStreams = new Set();
  const app = createRestApp(hub, {
    token: options.token,
    guard: { boundHost: options.host, allowedHosts: options.allowedHosts },
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    openStreams,
    onInternalError:
      options.onInternalError ??
      ((error) => process.stderr.write(`REST internal error: ${(error as Error)?.stack ?? String(error)}\n`)),
  });
  const listener = getRequestListener(app.fetch);
  const server = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' }, listener)
    : createServer(listener);
  // A client that speaks plain HTTP to the HTTPS port, or fails the handshake: nothing to log.
  server.on('tlsClientError', () => {});

  const address = await new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const end of [...openStreams]) end();
      // Keep-alive connections go idle as their answers finish; close each as soon as it does.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const forced = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      server.once('close', () => {
        clearInterval(sweep);
        clearTimeout(forced);
      });
      server.closeIdleConnections();
    });
    return closing;
  };

  return { address, close };
}
