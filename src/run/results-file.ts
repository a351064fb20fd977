/**
 * The results file of a run: one JSON line per task (results.ts says what a line holds). A run
 * writes it when it ends; a resumed run adds to the file its earlier session wrote, so that in the
 * end every task of the run has exactly one line there.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TERMINAL_STATUSES } from '../protocol/model.ts';
import type { ResultRecord } from './results.ts';

/** Write `records` to `path` (replacing it), one JSON line each. */
export async function writeRecords(path: string, records: readonly ResultRecord[]): Promise<void> {
  await writeLines(
    path,
    records.map((record) => JSON.stringify(record)),
    'w',
  );
}

/**
 * Add a resumed session's records to the file of the run's earlier sessions. A task that has a
 * finished line there keeps it, as it is (it did not run again); every other task of `records`
 * gets its line after them. Lines of tasks an earlier session left unfinished (queued, leased)
 * are replaced by their new line: the file is appended to when it has none, rewritten (through a
 * rename, so it is never half written) when it has some.
 */
export async function mergeRecords(path: string, records: readonly ResultRecord[]): Promise<void> {
  const earlier = await readLines(path);
  const kept: string[] = [];
  const recorded = new Set<number>();
  let superseded = 0;
  for (const line of earlier) {
    const record = parseRecord(line);
    if (record && TERMINAL_STATUSES.includes(record.status)) {
      kept.push(line);
      recorded.add(record.task_id);
    } else if (record) superseded += 1;
    else kept.push(line); // not ours to judge: kept as it was
  }
  const added = records
    .filter((record) => !recorded.has(record.task_id))
    .map((record) => JSON.stringify(record));
  if (superseded === 0) {
    await writeLines(path, added, 'a');
    return;
  }
  const temporary = `${path}.${process.pid}.tmp`;
  await writeLines(temporary, [...kept, ...added], 'w');
  await rename(temporary, path);
}

async function readLines(path: string): Promise<string[]> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter((line) => line.trim() !== '');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

function parseRecord(line: string): Pick<ResultRecord, 'task_id' | 'status'> | null {
  try {
    const value = JSON.parse(line) as Partial<ResultRecord>;
    return typeof value.task_id === 'number' && typeof value.status === 'string'
      ? { task_id: value.task_id, status: value.status }
      : null;
  } catch {
    return null;
  }
}

async function writeLines(path: string, lines: readonly string[], flags: 'w' | 'a'): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path, { flags });
  for (const line of lines) {
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
