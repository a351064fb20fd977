/**
 * Durations on the command line (`--older-than 7d`, `--keep-finished 2w`): a whole number and one
 * unit, s, m, h, d or w. A bare number is refused rather than guessed at: "7" could be seconds or
 * days, and a prune that guessed wrong removes what it should have kept.
 */
import { CliError } from './common.ts';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** The longest duration accepted: ten years (anything longer is a typo). */
const MAX_SECONDS = 10 * 365 * 86_400;

/** Seconds in `value`; a CliError (exit 2) naming `flag` when it is not a duration. */
export function parseDuration(value: string, flag: string): number {
  const match = /^(\d+)\s*([smhdw])$/.exec(value.trim());
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2]!]! : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds > MAX_SECONDS) {
    const why = /^\d+(\.\d+)?$/.test(value.trim()) ? ' (add a unit)' : '';
    throw new CliError(
      `${flag} must be a duration: a whole number and a unit, s, m, h, d or w (30s, 15m, 2h, 7d, 2w; at most 10 years), got "${value}"${why}`,
    );
  }
  return seconds;
}
