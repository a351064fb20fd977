/**
 * Where verification runs leave their evidence: `reports/<kind>/<timestamp>_<name>/`, with JSON
 * files for machines and a summary.md for people. reports/ is git-ignored: these are per-machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type ReportKind = 'swarm' | 'e2e' | 'matrix' | 'verify_cli_drivers';

export type RunStatus = 'SUCCESS' | 'FAILURE' | 'SKIPPED';

/** `20261125-104800`: sorts by time, safe in every file system. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

/** A new run folder; a second run in the same second gets a suffix rather than sharing it. */
export function createRunFolder(reportsDir: string, kind: ReportKind, name: string, parent?: string): string {
  const base = parent ?? join(reportsDir, kind);
  const stem = parent ? name : `${timestamp()}_${name}`;
  for (let n = 1; ; n += 1) {
    const folder = join(base, n === 1 ? stem : `${stem}-${n}`);
    try {
      mkdirSync(base, { recursive: true });
      mkdirSync(folder);
      return folder;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

export function writeJson(folder: string, file: string, value: unknown): void {
  writeFileSync(join(folder, file), `${JSON.stringify(value, null, 2)}\n`);
}

export function writeText(folder: string, file: string, text: string): void {
  writeFileSync(join(folder, file), text.endsWith('\n') ? text : `${text}\n`);
}

/** A Markdown table; `|` in cells is escaped so a message cannot break the layout. */
export function markdownTable(headers: string[], rows: string[][]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}
