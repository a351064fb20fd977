/**
 * The dashboard's task table: the columns of `mittelo status` (formatTaskTable in
 * src/cli/format.ts), plus a CHANGE column with the size of what a task's worktree run changed
 * (only when a task shown has one), and under each running task its newest output line, cut to
 * the screen's width. Pure: it is given the screen's room and returns the lines that fit.
 */
import type { OutputLine, Task, WorktreeChange } from '../../protocol/model.ts';
import {
  formatCount,
  formatTable,
  preview,
  TASK_TABLE_HEADERS,
  TASK_TABLE_PROMPT_COLUMN,
  taskTableCells,
} from '../format.ts';
import type { NewestLines } from './newest-output.ts';

/** Longest text a cell starts from (as in formatTaskTable); the table cuts it to what fits. */
const CELL_TEXT = 500;
/** The newest-line row starts under the task's columns, marked as belonging to the row above. */
const OUTPUT_MARK = '  ↳ ';

/** `+12 −3`: the lines a task's worktree run added and removed. */
export function changeSize(change: WorktreeChange): string {
  return `+${formatCount(change.insertions)} −${formatCount(change.deletions)}`;
}

/** `↳ tool: Bash(npm test)`, on one line; control characters are left for the screen to strip. */
export function outputRow(line: OutputLine, width: number): string {
  const text = `${OUTPUT_MARK}${line.kind}: ${preview(line.text, CELL_TEXT)}`;
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** The cells of `mittelo status`, with the CHANGE cell before PROMPT when the column is there. */
function taskRow(task: Task, nowSeconds: number, withChange: boolean): string[] {
  const cells = taskTableCells(task, nowSeconds);
  if (withChange) cells.splice(TASK_TABLE_PROMPT_COLUMN, 0, task.worktree ? changeSize(task.worktree) : '-');
  return cells;
}

export interface TaskRows {
  /** The table (its heading first) with the newest-line rows under their tasks. */
  lines: string[];
  /** How many tasks those lines show (the newest first). */
  shown: number;
  /** Whether a task shown has a worktree change (the CHANGE column is there). */
  changes: boolean;
}

/**
 * The newest tasks that fit in `budget` lines: each takes its row, and a running one with output
 * a second row for its newest line. `newest` is null from a hub without live output.
 */
export function taskRows(
  tasks: readonly Task[],
  newest: NewestLines | null | undefined,
  nowSeconds: number,
  budget: number,
  width: number,
): TaskRows {
  const lineOf = (task: Task) => (task.status === 'leased' ? newest?.[String(task.task_id)] : undefined);
  let shown = 0;
  let used = 1; // the heading
  for (const task of tasks) {
    const needs = lineOf(task) ? 2 : 1;
    if (used + needs > budget) break;
    used += needs;
    shown += 1;
  }
  if (shown === 0) return { lines: [], shown: 0, changes: false };
  const visible = tasks.slice(0, shown);
  const changes = visible.some((task) => task.worktree !== null && task.worktree !== undefined);
  const headers = [...TASK_TABLE_HEADERS];
  if (changes) headers.splice(TASK_TABLE_PROMPT_COLUMN, 0, 'CHANGE');
  const prompt = TASK_TABLE_PROMPT_COLUMN + (changes ? 1 : 0);
  // Cut first what is longest of the result, the prompt and the worker id; the rest stays whole.
  const table = formatTable(
    headers,
    visible.map((task) => taskRow(task, nowSeconds, changes)),
    { flexible: [3, prompt, prompt + 1], width },
  ).split('\n');
  const lines = [table[0]!];
  visible.forEach((task, index) => {
    lines.push(table[index + 1]!);
    const line = lineOf(task);
    if (line) lines.push(outputRow(line, width));
  });
  return { lines, shown, changes };
}
