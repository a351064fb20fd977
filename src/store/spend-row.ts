/**
 * Stored spend rows as the wire's SpendRow, for every store. A row's key is (day, backend): the
 * day as queue-policy.ts utcDay (whole UTC days since 1970-01-01), the backend as its name or ''
 * for acks of an agent that named none ('' is no backend name, and a key cannot be NULL).
 */
import type { SpendRow } from '../protocol/model.ts';
import { dayLabel } from './queue-policy.ts';

/** The stored backend of spend acked by an agent that named none. */
export const NO_BACKEND = '';

/** The stored backend of spend acked by an agent of `backend` (null: none named). */
export function spendBackend(backend: string | null | undefined): string {
  return backend ?? NO_BACKEND;
}

/** A spend row as stored. */
export interface StoredSpendRow {
  day: number;
  backend: string;
  tasks: number;
  cost_usd: number;
  estimated_usd: number;
  cost_unknown: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
}

/** The sums a spend row holds, in column order (the stores' upserts add each to itself). */
export const SPEND_SUMS = [
  'tasks',
  'cost_usd',
  'estimated_usd',
  'cost_unknown',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
] as const;

export function spendFromRow(row: StoredSpendRow): SpendRow {
  return {
    day: dayLabel(row.day),
    backend: row.backend === NO_BACKEND ? null : row.backend,
    tasks: row.tasks,
    cost_usd: row.cost_usd,
    estimated_usd: row.estimated_usd,
    cost_unknown: row.cost_unknown,
    input_tokens: row.input_tokens,
    output_tokens: row.output_tokens,
    cache_read_tokens: row.cache_read_tokens,
    cache_write_tokens: row.cache_write_tokens,
  };
}
