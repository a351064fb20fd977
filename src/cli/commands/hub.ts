/** `mittelo hub`: run the hub in the foreground until Ctrl-C, SIGTERM or a `shutdown` request. */
import { Command, Option } from 'commander';
import { isLoopbackHost } from '../../hub/auth.ts';
import { HUB_DEFAULTS, startHub } from '../../hub/start-hub.ts';
import { readTlsFiles } from '../../hub/tls.ts';
import { CliError, parsePort, parsePositiveInt } from '../common.ts';

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
    .action(async (flags) => {
      const leaseSeconds = Number(flags.leaseSeconds);
      if (!(leaseSeconds > 0))
        throw new CliError(`--lease-seconds must be a positive number, got "${flags.leaseSeconds}"`);
      if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) {
        throw new CliError(
          `${flags.tlsCert ? '--tls-cert' : '--tls-key'} needs ${flags.tlsCert ? '--tls-key' : '--tls-cert'} too: TLS takes the certificate and its private key; nothing was started`,
        );
      }
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
      const hostForUrl = (address: string) => (address.includes(':') ? `[${address}]` : address);
      if (flags.printUrl) {
        process.stdout.write(
          `MITTELO_HUB ${tls ? 'tls' : 'tcp'}://${hostForUrl(running.tcp.address)}:${running.tcp.port}\n`,
        );
        if (running.rest) {
          process.stdout.write(
            `MITTELO_REST ${tls ? 'https' : 'http'}://${hostForUrl(running.rest.address)}:${running.rest.port}\n`,
          );
        }
      } else {
        const where = `${tls ? 'tls://' : ''}${hostForUrl(running.tcp.address)}:${running.tcp.port}`;
        process.stderr.write(`mittelo hub listening on ${where} (db ${flags.db})\n`);
      }
      let signals = 0;
      const onSignal = () => {
        signals += 1;
        if (signals > 1) process.exit(130); // a second Ctrl-C: stop waiting
        void running.stop();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      await running.stopped;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    });
}

/** `a, b,,c` -> ['a', 'b', 'c']; absent -> none. */
function parseList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
