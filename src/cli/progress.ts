/**
 * How `mittelo run` and `mittelo wait` show progress on stderr: a bar on a terminal (cli-progress),
 * and anywhere else (CI logs, files) a plain line every PLAIN_EVERY_MS, whether or not anything
 * changed, so a log shows a stuck run as stuck rather than as silence.
 */
import cliProgress from 'cli-progress';
import { formatCount } from './format.ts';

/** What a view shows: how many tasks there are and how many have finished, and how. */
export interface ProgressCounts {
  total: number;
  done: number;
  failed: number;
  canceled: number;
}

export interface ProgressView {
  update(counts: ProgressCounts): void;
  stop(): void;
}

/**
 * How often the plain view prints a line. docs/AGENTS.md (`mittelo run`, step 6) and docs/CLI.md
 * (`mittelo wait`) say "every 2 seconds": change them with it.
 */
export const PLAIN_EVERY_MS = 2000;

export interface ProgressFigures {
  finished: number;
  /** Finished tasks per second since the start. */
  rate: number;
  /** Seconds until every task has finished at that rate; null before the first one finishes. */
  etaS: number | null;
}

export function progressFigures(counts: ProgressCounts, elapsedMs: number): ProgressFigures {
  const finished = counts.done + counts.failed + counts.canceled;
  const rate = elapsedMs > 0 ? (finished * 1000) / elapsedMs : 0;
  const left = Math.max(0, counts.total - finished);
  const etaS = left === 0 ? 0 : rate > 0 ? left / rate : null;
  return { finished, rate, etaS };
}

/** Seconds as at most two units: 7s, 3m05s, 2h04m. */
export function formatSpan(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${formatCount(Math.floor(s / 3600))}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `eta 3m05s`; `eta ?` while nothing has finished (no rate to go by yet). */
export function formatEta(etaS: number | null): string {
  return etaS === null ? 'eta ?' : `eta ${formatSpan(etaS)}`;
}

/** One decimal below 10 per second, so a slow run does not read as 0/s. */
function formatRate(rate: number): string {
  return rate < 10 ? `${rate.toFixed(1)}/s` : `${formatCount(Math.round(rate))}/s`;
}

function failedOf(counts: ProgressCounts): number {
  return counts.failed + counts.canceled;
}

/** The bar's line: `run |████░░| 12/40 | 11 done, 1 failed | 2.4/s | 5s | eta 12s`. */
export function barLine(label: string, bar: string, counts: ProgressCounts, elapsedMs: number): string {
  const { finished, rate, etaS } = progressFigures(counts, elapsedMs);
  return [
    `${label} |${bar}| ${formatCount(finished)}/${formatCount(counts.total)}`,
    `${formatCount(counts.done)} done, ${formatCount(failedOf(counts))} failed`,
    formatRate(rate),
    formatSpan(elapsedMs / 1000),
    formatEta(etaS),
  ].join(' | ');
}

/** The plain line: `progress: 12/40 finished (11 done, 1 failed), 2.4/s, 5.0 s, eta 12s`. */
export function plainLine(counts: ProgressCounts, elapsedMs: number): string {
  const { finished, rate, etaS } = progressFigures(counts, elapsedMs);
  return `progress: ${formatCount(finished)}/${formatCount(counts.total)} finished (${formatCount(counts.done)} done, ${formatCount(failedOf(counts))} failed), ${formatRate(rate)}, ${(elapsedMs / 1000).toFixed(1)} s, ${formatEta(etaS)}`;
}

export interface ProgressViewOptions {
  /** The bar's first word (`run`, `wait`). */
  label: string;
  /**
   * Plain view only: print a last line at stop() even when no line was printed yet. `run` always
   * ends with one; `wait` stays quiet when it was over before the first line was due.
   */
  finalLine: 'always' | 'if-started';
}

export function progressView(
  stream: NodeJS.WriteStream,
  total: number,
  options: ProgressViewOptions = { label: 'run', finalLine: 'always' },
): ProgressView {
  if (stream.isTTY) return barView(stream, total, options.label);
  return plainView(stream, total, options.finalLine);
}

function barView(stream: NodeJS.WriteStream, total: number, label: string): ProgressView {
  const started = Date.now();
  let latest: ProgressCounts = { total, done: 0, failed: 0, canceled: 0 };
  // A format function rather than a template: elapsed time and ETA are ours, computed at each
  // redraw (cli-progress redraws on its own timer), so they keep moving while nothing finishes.
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: (options, params) =>
        barLine(label, cliProgress.Format.BarFormat(params.progress, options), latest, Date.now() - started),
      hideCursor: true,
      clearOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (counts) => {
      latest = counts;
      bar.update(counts.done + counts.failed + counts.canceled);
    },
    stop: () => bar.stop(),
  };
}

function plainView(
  stream: NodeJS.WriteStream,
  total: number,
  finalLine: 'always' | 'if-started',
): ProgressView {
  const started = Date.now();
  let latest: ProgressCounts = { total, done: 0, failed: 0, canceled: 0 };
  let printed = 0;
  const print = () => {
    printed += 1;
    stream.write(`${plainLine(latest, Date.now() - started)}\n`);
  };
  const timer = setInterval(print, PLAIN_EVERY_MS);
  return {
    update: (counts) => {
      latest = counts;
    },
    stop: () => {
      clearInterval(timer);
      if (finalLine === 'always' || printed > 0) print();
    },
  };
}
