/**
 * Moments as typed on the command line (`enqueue --not-before`, `pause --until`): what each form
 * means, and a one-line usage error (exit 2) for anything else.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError, EXIT } from '../../src/cli/common.ts';
import { parseMoment } from '../../src/cli/time-flags.ts';

function usageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CliError, `expected a CliError, got ${String(error)}`);
    assert.equal(error.exitCode, EXIT.usage);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('parseMoment', () => {
  // A fixed moment, read in the machine's own zone like the CLI does.
  const now = new Date(2026, 2, 1, 12, 0, 0).getTime() / 1000;

  it('reads Unix seconds, local and zoned date-times, and a time of day as its next occurrence', () => {
    assert.equal(parseMoment('1767225600', '--until', now), 1_767_225_600);
    assert.equal(parseMoment('1767225600.5', '--until', now), 1_767_225_600.5);
    assert.equal(
      parseMoment('2026-03-01T09:30', '--until', now),
      new Date(2026, 2, 1, 9, 30).getTime() / 1000,
    );
    assert.equal(
      parseMoment('2026-03-01 09:30:15', '--until', now),
      new Date(2026, 2, 1, 9, 30, 15).getTime() / 1000,
    );
    assert.equal(parseMoment('2026-03-01T09:30Z', '--until', now), Date.UTC(2026, 2, 1, 9, 30) / 1000);
    assert.equal(parseMoment('2026-03-01T09:30+02:00', '--until', now), Date.UTC(2026, 2, 1, 7, 30) / 1000);
    assert.equal(
      parseMoment('18:30', '--until', now),
      new Date(2026, 2, 1, 18, 30).getTime() / 1000,
      'later today',
    );
    assert.equal(
      parseMoment('08:00', '--until', now),
      new Date(2026, 2, 2, 8, 0).getTime() / 1000,
      'tomorrow',
    );
  });

  it('refuses milliseconds, other forms and impossible times', () => {
    usageError(
      () => parseMoment('1767225600000', '--not-before', now),
      /looks like milliseconds: give Unix seconds \(1767225600\)/,
    );
    for (const text of ['tomorrow', '2026-03-01', '25:00', '12:60', '2026-13-45T10:00']) {
      usageError(() => parseMoment(text, '--not-before', now), /^--not-before must be Unix seconds/);
    }
  });
});
