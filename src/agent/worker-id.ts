import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** `<host>-<pid>-<8 hex>`: unique across machines, processes and agents within one process. */
export function defaultWorkerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
}
