/**
 * How `mittelo run` shows progress: a bar on a terminal (cli-progress), a plain line every few
 * seconds anywhere else (CI logs, files), so a log shows the run moving without control codes.
 */
import cliProgress from 'cli-progress';
import type { JobProgress } from '../run/job.ts';

export interface ProgressView {
  update(progress: JobProgress): void;
  stop(): void;
}

const PLAIN_EVERY_MS = 2000;

function rate(progress: JobProgress): number {
  const finished = progress.done + progress.failed + progress.canceled;
  return progress.elapsedMs > 0 ? Math.round((finished * 1000) / progress.elapsedMs) : 0;
}

export function progressView(stream: NodeJS.WriteStream, total: number): ProgressView {
  if (stream.isTTY) return barView(stream, total);
  return plainView(stream);
}

function barView(stream: NodeJS.WriteStream, total: number): ProgressView {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: 'run |{bar}| {value}/{total} | {done} done, {failed} failed | {rate}/s | {duration_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { done: 0, failed: 0, rate: 0 });
  return {
    update: (progress) =>
      bar.update(progress.done + progress.failed + progress.canceled, {
        done: progress.done,
        failed: progress.failed + progress.canceled,
        rate: rate(progress),
      }),
    stop: () => bar.stop(),
  };
}

function plainView(stream: NodeJS.WriteStream): ProgressView {
  let latest: JobProgress | null = null;
  let printed: JobProgress | null = null;
  const print = () => {
    if (!latest || latest === printed) return;
    printed = latest;
    const finished = latest.done + latest.failed + latest.canceled;
    stream.write(
      `progress: ${finished}/${latest.total} finished (${latest.done} done, ${latest.failed} failed), ${rate(latest)}/s, ${(latest.elapsedMs / 1000).toFixed(1)} s\n`,
    );
  };
  const timer = setInterval(print, PLAIN_EVERY_MS);
  return {
    update: (progress) => {
      latest = progress;
    },
    stop: () => {
      clearInterval(timer);
      print();
    },
  };
}
