/**
 * The store's connections: a pg.Pool, the schema's name, the clock, and the one way every query
 * turns database failures into MitteloErrors (faults.ts).
 */
import type pg from 'pg';
import { MitteloError } from '../../errors.ts';
import type { RetryPolicy } from '../queue-policy.ts';
import {
  type ConnectionSettings,
  type DatabaseTarget,
  describeConnectError,
  isConnectionFailure,
} from './connect.ts';
import { describeDatabaseFault, type FaultPhase, isDatabaseFault } from './faults.ts';

export class Db {
  readonly pool: pg.Pool;
  /** `host:port/db`, for messages. */
  readonly where: string;
  /** The schema, quoted for SQL. */
  readonly s: string;
  readonly policy: RetryPolicy;
  /** The injected clock's time, or null: the database's clock decides (see NOW). */
  readonly clock: () => number | null;

  private readonly target: DatabaseTarget;
  private readonly settings: ConnectionSettings;

  constructor(parts: {
    pool: pg.Pool;
    target: DatabaseTarget;
    settings: ConnectionSettings;
    schemaSql: string;
    policy: RetryPolicy;
    now: (() => number) | undefined;
  }) {
    this.pool = parts.pool;
    this.target = parts.target;
    this.settings = parts.settings;
    this.where = parts.target.where;
    this.s = parts.schemaSql;
    this.policy = parts.policy;
    const now = parts.now;
    this.clock = now ? () => now() : () => null;
  }

  /**
   * Run `body` on one connection of the pool. A connection that cannot be had is refused at once
   * (`unavailable`, nothing sent); one that broke during `body` is dropped from the pool. Errors of
   * `body` are thrown as they are: the caller knows whether they may have changed anything.
   */
  async withClient<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      // No connection: nothing was sent. (A server that turned us away says why: shutting down,
      // not accepting connections, the password changed, the database dropped.)
      const refusal = describeConnectError(error, this.target, this.settings);
      // To the caller of a request this is the database being unavailable, whatever the cause.
      throw refusal.code === 'unavailable'
        ? refusal
        : new MitteloError('unavailable', refusal.message, refusal.details);
    }
    try {
      const result = await body(client);
      client.release();
      return result;
    } catch (error) {
      client.release(isConnectionFailure(error) ? (error as Error) : undefined);
      throw error;
    }
  }

  /** One statement, as a read: a database failure becomes its MitteloError. */
  async read<R extends pg.QueryResultRow>(query: pg.QueryConfig): Promise<R[]> {
    try {
      return (await this.withClient((client) => client.query<R>(query))).rows;
    } catch (error) {
      throw this.fault(error, 'read');
    }
  }

  /** The MitteloError for a database failure; any other error as it is. */
  fault(error: unknown, phase: FaultPhase): unknown {
    return isDatabaseFault(error) ? describeDatabaseFault(error, this.where, phase) : error;
  }
}

/**
 * The current time in SQL, as Unix seconds with fraction: the injected clock when the store has
 * one (parameter `$n`, NULL otherwise), else the database's. statement_timestamp() rather than
 * clock_timestamp(): it is one value for the whole statement (clock_timestamp() moves on from row
 * to row), and unlike now() it moves on between statements of one transaction.
 */
export const NOW = (n: number): string =>
  `COALESCE($${n}::float8, extract(epoch from statement_timestamp())::float8)`;
