/**
 * Start a complete hub: store, protocol core, TCP server and (optionally) the REST API. Used by
 * `mittelo hub`, by `mittelo run` for its embedded hub, and by tests.
 */
import type { AddressInfo } from 'node:net';
import { MitteloError } from '../errors.ts';
import type { Budget, Cap } from '../protocol/model.ts';
import { openStore } from '../store/open-store.ts';
import type { RetryPolicy } from '../store/queue-policy.ts';
import type { Store } from '../store/types.ts';
import { checkBindPolicy } from './auth.ts';
import { resolveAuthLimits, type WrongTokenBackoffPolicy } from './auth-guard.ts';
import { Hub } from './hub.ts';
import { describeListenError } from './listen-errors.ts';
import { startRestServer } from './rest/rest-server.ts';
import { Retention } from './retention.ts';
import { TcpServer } from './tcp-server.ts';
import { checkTls } from './tls.ts';

export interface HubConfig {
  host: string;
  port: number;
  /** A SQLite file path, or a postgres:// URL (src/store/open-store.ts). */
  db: string;
  leaseSeconds: number;
  token?: string | undefined;
  /** Allow listening beyond loopback without a token. */
  insecure: boolean;
  restPort?: number | undefined;
  restHost?: string | undefined;
  /** Host names the REST API answers to besides its bind address (--allowed-hosts). */
  allowedHosts?: readonly string[] | undefined;
  maxLineBytes: number;
  maxPromptBytes: number;
  /** fsync every commit (survives power loss) instead of only process death. */
  fsync: boolean;
  /**
   * Serve TCP and REST over TLS only, with this certificate (PEM; its chain may follow) and its
   * private key (PEM, unencrypted). `mittelo hub --tls-cert FILE --tls-key FILE` reads them
   * (src/hub/tls.ts). A pair that does not fit is refused before anything starts.
   */
  tls?: { cert: string; key: string } | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /** With a token: how long a new connection has to authenticate (default 10 s; auth-guard.ts). */
  helloTimeoutMs?: number | undefined;
  /** With a token: connections not yet authenticated at once; past it the oldest is closed (default 64). */
  maxUnauthenticated?: number | undefined;
  /** With a token: how addresses that send wrong tokens are slowed down (defaults in auth-guard.ts). */
  wrongTokenBackoff?: Partial<WrongTokenBackoffPolicy> | undefined;
  /**
   * Keep finished tasks this long (seconds), then prune them: once at start and every minute
   * (retention.ts). Absent: finished tasks are kept until `prune` is called.
   */
  keepFinishedS?: number | undefined;
  /**
   * Caps on leasing to set at start (`--limit`, `--rate`): each replaces the stored cap of its
   * scope; caps of other scopes stay as the store has them.
   */
  caps?: readonly Cap[] | undefined;
  /**
   * Daily spend budgets to set at start (`--budget`): each replaces the stored budget of its
   * backend; budgets of other backends stay as the store has them.
   */
  budgets?: readonly Budget[] | undefined;
  /** Called with one-line diagnostics (internal errors); defaults to stderr. */
  log?: ((line: string) => void) | undefined;
}

export const HUB_DEFAULTS = {
  host: '127.0.0.1',
  port: 8765,
  db: '.mittelo/mittelo.db',
  leaseSeconds: 60,
  maxLineBytes: 1024 * 1024,
  maxPromptBytes: 512 * 1024,
} as const;

/** Where a running hub can be reached, as URLs (`tls://` and `https://` when it serves TLS). */
export interface HubUrls {
  /** `tcp://host:port` or `tls://host:port`: a valid `--hub` for every client. */
  tcp: string;
  /** `http://host:port` or `https://host:port` of the REST API, when it is served. */
  rest: string | null;
  /** The web dashboard's page (the REST server's `/`), when REST is served. */
  dashboard: string | null;
}

export interface RunningHub {
  hub: Hub;
  store: Store;
  tcp: AddressInfo;
  rest: AddressInfo | null;
  urls: HubUrls;
  /** Stop accepting, answer what is in flight, close the database. Idempotent. */
  stop(): Promise<void>;
  /** Settles when the hub has stopped (after `stop()` or a `shutdown` request). */
  stopped: Promise<void>;
}

/** Bind failures become a MitteloError whose message names the cause and the fix. */
export async function startHub(config: HubConfig): Promise<RunningHub> {
  checkBindPolicy(config.host, config.token, config.insecure, '--host');
  if (config.tls) checkTls(config.tls);
  if (config.restPort !== undefined) {
    checkBindPolicy(config.restHost ?? config.host, config.token, config.insecure, '--rest-host');
  }
  const log = config.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const authLimits = resolveAuthLimits({
    helloTimeoutMs: config.helloTimeoutMs,
    maxUnauthenticated: config.maxUnauthenticated,
    backoff: config.wrongTokenBackoff,
  });
  const store = await openStore(config.db, { fsync: config.fsync, retry: config.retry, log });
  try {
    for (const cap of config.caps ?? []) await store.setCap(cap);
    for (const budget of config.budgets ?? []) await store.setBudget(budget);
  } catch (error) {
    await store.close();
    throw error;
  }

  let stopPromise: Promise<void> | null = null;
  let markStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    markStopped = resolve;
  });

  const hub = new Hub({
    store,
    leaseSeconds: config.leaseSeconds,
    token: config.token,
    maxPromptBytes: config.maxPromptBytes,
    onShutdownRequested: () => void stop(),
    log,
  });
  const tcpServer = new TcpServer(hub, {
    maxLineBytes: config.maxLineBytes,
    tls: config.tls,
    authLimits,
    onInternalError: (error) => log(`internal error: ${(error as Error)?.stack ?? String(error)}`),
  });
  let restServer: { close(): Promise<void> } | null = null;
  const retention =
    config.keepFinishedS === undefined
      ? null
      : new Retention({ store, keepFinishedS: config.keepFinishedS, log });

  const stop = (): Promise<void> => {
    stopPromise ??= (async () => {
      hub.beginShutdown();
      retention?.stop();
      await Promise.allSettled([tcpServer.close(), restServer?.close()]);
      await store.close();
      markStopped();
    })();
    return stopPromise;
  };

  let tcp: AddressInfo;
  try {
    tcp = await tcpServer.listen(config.host, config.port);
  } catch (error) {
    await store.close();
    throw new MitteloError(
      'unavailable',
      describeListenError(error as NodeJS.ErrnoException, 'hub', config.host, config.port),
      { listen_error: (error as NodeJS.ErrnoException).code ?? 'unknown' },
    );
  }

  let rest: AddressInfo | null = null;
  if (config.restPort !== undefined) {
    const restHost = config.restHost ?? config.host;
    try {
      const started = await startRestServer(hub, {
        host: restHost,
        port: config.restPort,
        token: config.token,
        allowedHosts: config.allowedHosts,
        tls: config.tls,
        maxBodyBytes: config.maxLineBytes,
        onInternalError: (error) => log(`REST internal error: ${(error as Error)?.stack ?? String(error)}`),
      });
      restServer = started;
      rest = started.address;
    } catch (error) {
      await stop();
      if (error instanceof MitteloError) throw error;
      throw new MitteloError(
        'unavailable',
        describeListenError(
          error as NodeJS.ErrnoException,
          'REST API',
          restHost,
          config.restPort,
          '--rest-port',
        ),
      );
    }
  }

  retention?.start();
  const urls = hubUrls(tcp, rest, config.tls !== undefined);
  // `hub_info` (the dashboards' header) says where this hub listens.
  hub.listeningAt(urls);
  return { hub, store, tcp, rest, urls, stop, stopped };
}

/** `scheme://host:port`, with an IPv6 address in brackets. */
function urlOf(scheme: string, address: AddressInfo): string {
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

function hubUrls(tcp: AddressInfo, rest: AddressInfo | null, tls: boolean): HubUrls {
  const restUrl = rest ? urlOf(tls ? 'https' : 'http', rest) : null;
  return {
    tcp: urlOf(tls ? 'tls' : 'tcp', tcp),
    rest: restUrl,
    dashboard: restUrl ? `${restUrl}/` : null,
  };
}
