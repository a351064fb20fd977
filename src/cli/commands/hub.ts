/** `mittelo hub`: run the hub in the foreground until Ctrl-C, SIGTERM or a `shutdown` request. */
import { Command, Option } from 'commander';
import { HUB_DEFAULTS, startHub } from '../../hub/start-hub.ts';
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
      new Option('--db <path>', 'SQLite database file (folder created)')
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
      new Option('--print-url', 'print MITTELO_HUB tcp://host:port (and MITTELO_REST) lines once listening'),
    )
    .addOption(
      new Option('--token <token>', 'require this shared token from every client').env('MITTELO_TOKEN'),
    )
    .addOption(new Option('--insecure', 'allow listening beyond loopback without a token'))
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
      });
      const hostForUrl = (address: string) => (address.includes(':') ? `[${address}]` : address);
      if (flags.printUrl) {
        process.stdout.write(`MITTELO_HUB tcp://${hostForUrl(running.tcp.address)}:${running.tcp.port}\n`);
        if (running.rest) {
          process.stdout.write(
            `MITTELO_REST http://${hostForUrl(running.rest.address)}:${running.rest.port}\n`,
          );
        }
      } else {
        process.stderr.write(
          `mittelo hub listening on ${hostForUrl(running.tcp.address)}:${running.tcp.port} (db ${flags.db})\n`,
        );
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
