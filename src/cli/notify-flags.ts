/**
 * The notification flags of `mittelo run` (--notify URL) and `mittelo hub` (--webhook URL), and
 * --notify-cmd on both: checked before anything starts, then turned into notifiers
 * (src/notify/). Delivery problems go to stderr, once per outage; they never change an exit code.
 */
import { Option } from 'commander';
import { commandSender } from '../notify/command.ts';
import { Notifications, Notifier } from '../notify/notifier.ts';
import { webhookSender } from '../notify/webhook.ts';
import { CliError } from './common.ts';

/** How long a finishing run, or a stopping hub, waits for the last events to be delivered. */
export const NOTIFY_FLUSH_MS = 5000;

export function notifyCmdOption(): Option {
  return new Option(
    '--notify-cmd <command>',
    'run this shell command for each event instead, with the event JSON on stdin (and its name in MITTELO_EVENT)',
  );
}

/** The URL of --notify / --webhook, refused unless it is http(s). */
export function parseWebhookUrl(value: string, flag: string): string {
  let url: URL | null = null;
  try {
    url = new URL(value.trim());
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new CliError(
      `${flag} must be an http:// or https:// URL (for example http://127.0.0.1:9000/hook), got "${value}"; nothing was started`,
    );
  }
  return url.href;
}

export interface NotifyTargets {
  url?: string | undefined;
  command?: string | undefined;
}

/** The targets of the flags, checked: a URL that is not http(s), or a blank command, is refused. */
export function notifyTargetsFrom(
  url: string | undefined,
  command: string | undefined,
  urlFlag: string,
): NotifyTargets {
  if (command !== undefined && command.trim() === '') {
    throw new CliError(
      '--notify-cmd needs a command, for example --notify-cmd "notify-send mittelo"; nothing was started',
    );
  }
  return { url: url === undefined || url === '' ? undefined : parseWebhookUrl(url, urlFlag), command };
}

/** Notifiers for the targets given (null when none is), logging through `log`. */
export function openNotifications(targets: NotifyTargets, log: (line: string) => void): Notifications | null {
  const notifiers: Notifier[] = [];
  if (targets.url) notifiers.push(new Notifier({ sender: webhookSender(targets.url), log }));
  if (targets.command?.trim()) notifiers.push(new Notifier({ sender: commandSender(targets.command), log }));
  return notifiers.length > 0 ? new Notifications(notifiers) : null;
}
