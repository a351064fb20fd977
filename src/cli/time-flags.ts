/**
 * Moments as people type them on the command line: `--not-before 2026-03-01T09:00`, `--until
 * 18:30`, Unix seconds. (Durations, `--delay 30s`, are duration.ts's.) Returns Unix seconds, or
 * throws a CliError (exit 2) saying what was wrong and what is accepted.
 */
import { CliError } from './common.ts';

const PLAIN_SECONDS = /^\d+(?:\.\d+)?$/;
const TIME_OF_DAY = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}/;
/** Unix times past this are milliseconds, not seconds (it is the year 5138 in seconds). */
const MILLISECONDS_FROM = 1e11;

/**
 * A moment as Unix seconds: Unix seconds (`1767225600`), a local date and time
 * (`2026-03-01T09:00`, `2026-03-01 09:00:30`; with `Z` or `+02:00` for another zone), or a time
 * of day (`18:30`: its next occurrence, today or tomorrow, local time).
 */
export function parseMoment(value: string, flag: string, nowSeconds: number): number {
  const text = value.trim();
  const accepted =
    'Unix seconds (1767225600), a date and time (2026-03-01T09:00, local unless it ends in Z or +hh:mm) or a time of day (18:30)';
  if (PLAIN_SECONDS.test(text)) {
    const seconds = Number(text);
    if (seconds >= MILLISECONDS_FROM) {
      throw new CliError(
        `${flag} ${value} looks like milliseconds: give Unix seconds (${Math.floor(seconds / 1000)})`,
      );
    }
    return seconds;
  }
  const clock = TIME_OF_DAY.exec(text);
  if (clock) {
    const [hours, minutes, seconds] = [Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0)];
    if (hours > 23 || minutes > 59 || seconds > 59)
      throw new CliError(`${flag} must be ${accepted}, got "${value}"`);
    const at = new Date(nowSeconds * 1000);
    at.setHours(hours, minutes, seconds, 0);
    if (at.getTime() / 1000 <= nowSeconds) at.setDate(at.getDate() + 1);
    return at.getTime() / 1000;
  }
  const parsed = DATE_TIME.test(text) ? Date.parse(text.replace(' ', 'T')) : Number.NaN;
  if (Number.isNaN(parsed)) throw new CliError(`${flag} must be ${accepted}, got "${value}"`);
  return parsed / 1000;
}
