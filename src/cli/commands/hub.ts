/** `mittelo hub`: run the hub in the foreground until Ctrl-C, SIGTERM or a `shutdown` request. */
import { Command, Option } from 'commander';
import { isLoopbackHost } from '../../hub/auth.ts';
import { HUB_DEFAULTS, type HubUrls, startHub } from '../../hub/start-hub.ts';
import { readTlsFiles } from '../../hub/tls.ts';
import { watchHub } from '../../notify/hub-watch.ts';
import { budgetsFromFlags } from '../budget-flags.ts';
import { CliError, parsePort, parsePositiveInt, repeatable } from '../common.ts';
import { parseDuration } from '../duration.ts';
import { capsFromFlags } from '../limit-flags.ts';
import { NOTIFY_FLUSH_MS, notifyCmdOption, notifyTargetsFrom, openNotifications } from '../notify-flags.ts';

export function hubCommand(): Command {
  return new Command('hub')
    .description('run the hub: the durable task queue that agents lease from')
    .addOption(
      new Option('--host <host>', 'address to listen on').env('MITTELO_HOST').default(HUB_DEFAULTS.host),
    )
    .addOption(
      new Option('--port <port>', 'TCP port; 0 picks a free one')
        .env('MITTELO_PORT')
        .default(String(HUB_DEFAULTS.port)),
    )
    .addOption(
      new Option('--db <path-or-url>', 'SQLite database file (folder created), or a postgres:// URL')
        .env('MITTELO_DB')
        .default(HUB_DEFAULTS.db),
    )
    .addOption(
      new Option('--lease-seconds <n>', 'default lease length for agents that do not say').default(
        String(HUB_DEFAULTS.leaseSeconds),
      ),
    )
    .addOption(
      new Option('--rest-port <port>', 'also serve the HTTP API (and dashboard) on this port; 0 = free port'),
    )
    .addOption(new Option('--rest-host <host>', 'address for the HTTP API (default: --host)'))
    .addOption(
      new Option(
        '--allowed-hosts <names>',
        'more Host names the HTTP API answers to, comma-separated (a DNS name or proxy in front)',
      ).env('MITTELO_ALLOWED_HOSTS'),
    )
    .addOption(
      new Option(
        '--print-url',
        'print MITTELO_HUB tcp://host:port (tls:// with TLS) and MITTELO_REST lines once listening',
      ),
    )
    .addOption(
      new Option('--token <token>', 'require this shared token from every client').env('MITTELO_TOKEN'),
    )
    .addOption(new Option('--insecure', 'allow listening beyond loopback without a token'))
    .addOption(
      new Option(
        '--tls-cert <file>',
        'serve TCP and REST over TLS with this PEM certificate (needs --tls-key)',
      ).env('MITTELO_TLS_CERT'),
    )
    .addOption(
      new Option('--tls-key <file>', "the certificate's PEM private key, unencrypted (needs --tls-cert)").env(
        'MITTELO_TLS_KEY',
      ),
    )
    .addOption(
      new Option('--fsync', 'fsync every commit: answered writes survive a power loss, not only a crash').env(
        'MITTELO_FSYNC',
      ),
    )
    .addOption(
      new Option(
        '--webhook <url>',
        'POST a JSON event to this URL when a task fails for good, a backend turns unhealthy, or one is paused',
      ).env('MITTELO_WEBHOOK'),
    )
    .addOption(notifyCmdOption())
    .addOption(
      new Option('--max-attempts <n>', 'attempts for tasks that do not set max_attempts').default('1'),
    )
    .addOption(
      new Option('--retry-backoff-ms <n>', 'wait before the 2nd attempt; doubles each time').default('1000'),
    )
    .addOption(
      new Option('--max-line-bytes <n>', 'longest request line accepted').default(
        String(HUB_DEFAULTS.maxLineBytes),
      ),
    )
    .addOption(
      new Option('--max-prompt-bytes <n>', 'longest prompt accepted').default(
        String(HUB_DEFAULTS.maxPromptBytes),
      ),
    )
    .addOption(
      new Option(
        '--keep-finished <duration>',
        'prune finished tasks once they are older than this (30s, 15m, 2h, 7d, 2w): at start, then every minute; default: keep them',
      ).env('MITTELO_KEEP_FINISHED'),
    )
    .addOption(
      new Option(
        '--limit <name=n>',
        'at most n tasks leased at once for a backend or tag:NAME (repeatable: --limit claude_code=3 --limit tag:gpu=1)',
      ).argParser(repeatable),
    )
    .addOption(
      new Option(
        '--rate <name=n/min>',
        'at most n lease starts per minute for a backend or tag:NAME (repeatable)',
      ).argParser(repeatable),
    )
    .addOption(
      new Option(
        '--budget <name=usd/day>',
        'no new leases for a backend once its known cost today (UTC) reaches this (repeatable: --budget claude_code=20usd/day)',
      ).argParser(repeatable),
    )
    .action(async (flags) => {
      const caps = capsFromFlags(flags.limit, flags.rate);
      const budgets = budgetsFromFlags(flags.budget);
      const leaseSeconds = Number(flags.leaseSeconds);
      if (!(leaseSeconds > 0))
        throw new CliError(`--lease-seconds must be a positive number, got "${flags.leaseSeconds}"`);
      if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) {
        throw new CliError(
          `${flags.tlsCert ? '--tls-cert' : '--tls-key'} needs ${flags.tlsCert ? '--tls-key' : '--tls-cert'} too: TLS takes the certificate and its private key; nothing was started`,
        );
      }
      const keepFinishedS =
        flags.keepFinished === undefined || flags.keepFinished === ''
          ? undefined
          : parseDuration(flags.keepFinished, '--keep-finished');
      const notifyTargets = notifyTargetsFrom(flags.webhook, flags.notifyCmd, '--webhook');
      // Read and checked before anything starts: a bad file is one line and exit 2.
      const tls = flags.tlsCert ? readTlsFiles(flags.tlsCert, flags.tlsKey) : undefined;
      for (const warning of tls?.warnings ?? []) process.stderr.write(`mittelo hub: warning: ${warning}\n`);
      const running = await startHub({
        host: flags.host,
        port: parsePort(flags.port, '--port'),
        db: flags.db,
        leaseSeconds,
        token: flags.token || undefined,
        insecure: Boolean(flags.insecure),
        restPort: flags.restPort === undefined ? undefined : parsePort(flags.restPort, '--rest-port'),
        restHost: flags.restHost,
        allowedHosts: parseList(flags.allowedHosts),
        maxLineBytes: parsePositiveInt(flags.maxLineBytes, '--max-line-bytes'),
        maxPromptBytes: parsePositiveInt(flags.maxPromptBytes, '--max-prompt-bytes'),
        fsync: flags.fsync === true || flags.fsync === '1' || flags.fsync === 'true',
        retry: {
          default_max_attempts: parsePositiveInt(flags.maxAttempts, '--max-attempts'),
          backoff_base_ms: parsePositiveInt(flags.retryBackoffMs, '--retry-backoff-ms', { allowZero: true }),
        },
        tls: tls ? { cert: tls.cert, key: tls.key } : undefined,
        keepFinishedS,
        caps,
        budgets,
      });
      const token = Boolean(flags.token);
      const exposed = [running.tcp.address, ...(running.rest ? [running.rest.address] : [])].find(
        (address) => !isLoopbackHost(address),
      );
      if (token && !tls && exposed) {
        process.stderr.write(
          `mittelo hub: warning: listening on ${exposed} without TLS: the token (and every task) travels in clear text; serve TLS with --tls-cert FILE --tls-key FILE, or listen on 127.0.0.1 only\n`,
        );
      }
      if (flags.printUrl) {
        process.stdout.write(`MITTELO_HUB ${running.urls.tcp}\n`);
        if (running.urls.rest) process.stdout.write(`MITTELO_REST ${running.urls.rest}\n`);
      }
      process.stderr.write(`${startupLine(running.urls, flags.db)}\n`);
      const notifications = openNotifications(notifyTargets, (line) =>
        process.stderr.write(`mittelo hub: ${line}\n`),
      );
      const unwatch = notifications
        ? watchHub(running.hub, { source: 'hub', hub: running.urls.tcp }, (event) =>
            notifications.push(event),
          )
        : () => {};
      let signals = 0;
      const onSignal = () => {
        signals += 1;
        if (signals > 1) process.exit(130); // a second Ctrl-C: stop waiting
        void running.stop();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      await running.stopped;
      unwatch();
      await notifications?.close(NOTIFY_FLUSH_MS);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    });
}

/**
 * The one line a starting hub prints: every address it serves, as URLs a person can paste (the
 * TCP one is a valid --hub; the dashboard one opens in a browser).
 */
export function startupLine(urls: HubUrls, db: string): string {
  const served = [urls.tcp];
  if (urls.rest) served.push(`REST ${urls.rest}`);
  if (urls.dashboard) served.push(`dashboard ${urls.dashboard}`);
  return `mittelo hub listening on ${served.join(' · ')} (db ${db})`;
}

/** `a, b,,c` -> ['a', 'b', 'c']; absent -> none. */
function parseList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
