/**
 * The newest output line of each running task the dashboard shows, read with `output_tail` on
 * every snapshot — only for the leased tasks among the rows it listed (a screenful), never for
 * the whole swarm: with 1,000 tasks running the dashboard asks about the few dozen it can show,
 * and each answer is one line. Subscribing to every task's output instead would send the
 * dashboard the whole swarm's output to keep one line per visible row. A hub without the
 * `live_output` feature (v0.1, older v1) is never asked: the dashboard then shows no output.
 */
import type { HubClient } from '../../client/hub-client.ts';
import type { OutputLine, Task } from '../../protocol/model.ts';

/** Newest line per task id (as a string key, so a `--once --json` snapshot prints it as is). */
export type NewestLines = Record<string, OutputLine>;

export const LIVE_OUTPUT_FEATURE = 'live_output';

export function hubHasLiveOutput(client: HubClient): boolean {
  return client.hasFeature(LIVE_OUTPUT_FEATURE);
}

/**
 * Remembers each shown task's newest line between snapshots, so a task that printed nothing new
 * costs one small answer (no lines after the seq already known).
 */
export class NewestOutput {
  private readonly known = new Map<number, OutputLine>();

  /**
   * The newest line of each leased task in `tasks`; null when the hub keeps no live output.
   * A task whose tail cannot be read (it just finished and was pruned) is left out, not an error.
   */
  async read(client: HubClient, tasks: readonly Task[]): Promise<NewestLines | null> {
    if (!hubHasLiveOutput(client)) return null;
    const running = tasks.filter((task) => task.status === 'leased').map((task) => task.task_id);
    // Forget the tasks no longer shown running, so the memory is a screenful whatever runs.
    const shown = new Set(running);
    for (const id of this.known.keys()) if (!shown.has(id)) this.known.delete(id);
    await Promise.all(running.map((id) => this.readOne(client, id).catch(() => undefined)));
    const newest: NewestLines = {};
    for (const id of running) {
      const line = this.known.get(id);
      if (line) newest[String(id)] = line;
    }
    return newest;
  }

  /**
   * One line: the first after the seq known, and if the answer says there are newer ones
   * (`last_seq`), the last one by asking for what follows `last_seq - 1`. So at most two small
   * answers, whichever end of the range the hub's `limit` keeps.
   */
  private async readOne(client: HubClient, taskId: number): Promise<void> {
    let after = this.known.get(taskId)?.seq;
    let answer = await client.outputTail(taskId, after, 1);
    if (after !== undefined && answer.last_seq < after) {
      // A hub that started again keeps nothing of before (its tails are in memory): start over.
      this.known.delete(taskId);
      after = undefined;
      answer = await client.outputTail(taskId, undefined, 1);
    }
    let line = answer.lines.at(-1);
    if (answer.last_seq > 0 && (line?.seq ?? after ?? 0) < answer.last_seq) {
      const last = await client.outputTail(taskId, answer.last_seq - 1, 1);
      line = last.lines.at(-1) ?? line;
    }
    if (line) this.known.set(taskId, line);
  }
}
