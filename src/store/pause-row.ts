/**
 * A stored pause as the wire's Pause, for every store. A pause's scope is its primary key: the
 * backend's name, or '' for the whole queue ('' is no backend name, and a key cannot be NULL).
 */
import type { Pause } from '../protocol/model.ts';

/** The stored scope of a pause of the whole queue. */
export const WHOLE_QUEUE = '';

/** The stored scope of a pause of `backend` (null: the whole queue). */
export function pauseScope(backend: string | null | undefined): string {
  return backend ?? WHOLE_QUEUE;
}

export interface PauseRow {
  backend: string;
  paused_at: number;
  until: number | null;
  reason: string | null;
}

export function pauseFromRow(row: PauseRow): Pause {
  return {
    backend: row.backend === WHOLE_QUEUE ? null : row.backend,
    paused_at: row.paused_at,
    until: row.until,
    reason: row.reason,
  };
}

/** Whether a pause whose `until` is this is still in force at `now` (null: until resumed). */
export function pauseHolds(until: number | null, now: number): boolean {
  return until === null || until > now;
}
