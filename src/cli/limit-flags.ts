/**
 * Caps on leasing as people write and read them: `--limit claude_code=3`, `--limit tag:gpu=1`,
 * `--rate codex=20/min` (hub, run and `mittelo limit set`), and the lines `mittelo status`, the
 * terminal dashboard and `mittelo limit` print. (web/js/limits.js says the same in the page.)
 */
import type { Cap, CapState } from '../protocol/model.ts';
import { CliError } from './common.ts';
import { formatCount } from './format.ts';

const SCOPE = /^(tag:)?[A-Za-z0-9_.:-]{1,60}$/;

/** A backend name or tag:NAME, as a cap's scope. */
export function parseScope(text: string, flag: string): string {
  if (!SCOPE.test(text)) {
    throw new CliError(
      `${flag}: "${text}" is not a backend name or tag:NAME (letters, digits and _ . : - only), for example claude_code or tag:gpu`,
    );
  }
  return text;
}

/** `3`: tasks leased at once. */
export function parseConcurrency(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new CliError(
      `${flag}: the cap must be a whole number of tasks, 1 or more, got "${text}" (to stop leasing, use mittelo pause)`,
    );
  }
  return n;
}

/** `20/min`, `20` (per minute) or `600/h`: lease starts per minute. */
export function parseRate(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(?:\/(min|m|h|hour))?$/.exec(text.trim());
  const per = match ? (match[2]?.startsWith('h') ? 60 : 1) : 0;
  const rate = match ? Number(match[1]) / per : Number.NaN;
  if (!match || !(rate >= 1)) {
    throw new CliError(
      `${flag}: "${text}" is not a rate of 1 or more tasks per minute; write it as 20/min or 600/h`,
    );
  }
  return rate;
}

/** `NAME=VALUE`, split at the last `=` (a scope has none). */
function assignment(text: string, flag: string, example: string): [string, string] {
  const at = text.lastIndexOf('=');
  if (at <= 0 || at === text.length - 1) {
    throw new CliError(`${flag} takes NAME=VALUE, got "${text}"; for example ${flag} ${example}`);
  }
  return [parseScope(text.slice(0, at), flag), text.slice(at + 1)];
}

/**
 * The caps of repeated `--limit NAME=N` and `--rate NAME=N/min` flags, one per scope (a scope given
 * both gets both). A scope given twice in one flag is refused: which one was meant?
 */
export function capsFromFlags(limits: readonly string[] = [], rates: readonly string[] = []): Cap[] {
  const caps = new Map<string, Cap>();
  const add = (scope: string, field: 'concurrency' | 'rate_per_min', value: number, flag: string) => {
    const cap = caps.get(scope) ?? { scope, concurrency: null, rate_per_min: null };
    if (cap[field] !== null) throw new CliError(`${flag} ${scope} is given twice: give it once`);
    cap[field] = value;
    caps.set(scope, cap);
  };
  for (const text of limits) {
    const [scope, value] = assignment(text, '--limit', 'claude_code=3');
    add(scope, 'concurrency', parseConcurrency(value, '--limit'), '--limit');
  }
  for (const text of rates) {
    const [scope, value] = assignment(text, '--rate', 'codex=20/min');
    add(scope, 'rate_per_min', parseRate(value, '--rate'), '--rate');
  }
  return [...caps.values()];
}

function formatRate(rate: number): string {
  return `${Number.isInteger(rate) ? rate : rate.toFixed(2)}/min`;
}

/** `cap 3, 20/min` */
export function describeCap(cap: Cap): string {
  const parts: string[] = [];
  if (cap.concurrency !== null) parts.push(`cap ${cap.concurrency}`);
  if (cap.rate_per_min !== null) parts.push(formatRate(cap.rate_per_min));
  return parts.join(', ');
}

/** `claude_code: 3/3 leased (cap 3), 12 wait for a slot` */
export function describeCapState(cap: CapState): string {
  const leased =
    cap.concurrency === null
      ? `${formatCount(cap.leased)} leased`
      : `${formatCount(cap.leased)}/${formatCount(cap.concurrency)} leased`;
  const rate =
    cap.rate_per_min === null ? '' : `, ${formatCount(cap.started_last_min)} started in the last minute`;
  const full =
    (cap.concurrency !== null && cap.leased >= cap.concurrency) ||
    (cap.rate_per_min !== null && cap.started_last_min >= Math.floor(cap.rate_per_min));
  const waiting =
    cap.waiting === 0
      ? ''
      : full
        ? `, ${formatCount(cap.waiting)} wait for a slot`
        : `, ${formatCount(cap.waiting)} queued`;
  return `${cap.scope}: ${leased}${rate} (${describeCap(cap)})${waiting}`;
}

/** One line per cap: `limit: claude_code: 3/3 leased (cap 3), 12 wait for a slot`. */
export function capLines(caps: readonly CapState[]): string[] {
  return caps.map((cap) => `limit: ${describeCapState(cap)}`);
}
