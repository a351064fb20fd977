/**
 * The fleet: what hubs sharing one database tell each other, over PostgreSQL's LISTEN/NOTIFY.
 *
 * - One dedicated connection (not from the pool) LISTENs on the store's channel; if it is lost it
 *   is opened again with backoff, and `onReconnect` listeners hear of it (messages may have been
 *   missed meanwhile).
 * - `publish` sends `pg_notify(channel, payload)` through the pool: the payload is JSON with the
 *   sender's hub id, so a hub ignores its own messages. Messages of one event-loop turn go in one
 *   statement. A `tasks` message whose id list would pass the ~8000-byte payload limit is split.
 *   Publishing never throws: a failure is logged (once per episode) and the message dropped (they
 *   are hints; hubs also poll the database).
 * - Agents are saved in `<schema>.hub_agents` with the database's clock, so their age is measured
 *   by one clock whatever the hubs' own say. Closing deletes this hub's row.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { AgentInfo } from '../../protocol/model.ts';
import type { Fleet, FleetAgents, FleetMessage } from '../types.ts';
import { type ConnectionSettings, clientConfig, type DatabaseTarget, errorText } from './connect.ts';
import type { Db } from './db.ts';

/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; stay a little under. */
export const MAX_PAYLOAD_BYTES = 7900;

const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5000;

interface Envelope {
  hub: string;
  message: FleetMessage;
}

export interface FleetParts {
  db: Db;
  target: DatabaseTarget;
  settings: ConnectionSettings;
  /** The channel name (an identifier we made: `<schema>_fleet`). */
  channel: string;
  log: (line: string) => void;
}

/** Split a message into payloads under the limit (only `tasks` messages can be long). */
export function payloadsOf(hub: string, message: FleetMessage): string[] {
  const whole = JSON.stringify({ hub, message } satisfies Envelope);
  if (Buffer.byteLength(whole) <= MAX_PAYLOAD_BYTES || message.kind !== 'tasks') return [whole];
  const payloads: string[] = [];
  const base = Buffer.byteLength(JSON.stringify({ hub, message: { ...message, task_ids: [] } }));
  let ids: number[] = [];
  let size = base;
  for (const id of message.task_ids) {
    const add = String(id).length + 1;
    if (ids.length > 0 && size + add > MAX_PAYLOAD_BYTES) {
      payloads.push(JSON.stringify({ hub, message: { ...message, task_ids: ids } }));
      ids = [];
      size = base;
    }
    ids.push(id);
    size += add;
  }
  if (ids.length > 0) payloads.push(JSON.stringify({ hub, message: { ...message, task_ids: ids } }));
  return payloads;
}

export class PostgresFleet implements Fleet {
  readonly hubId = randomUUID();
  private readonly parts: FleetParts;
  private readonly messageListeners: ((message: FleetMessage) => void)[] = [];
  private readonly reconnectListeners: (() => void)[] = [];
  private listener: pg.Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = RECONNECT_FIRST_MS;
  private lostSince: number | null = null;
  private closed = false;
  private outgoing: string[] = [];
  private sending: Promise<void> | null = null;
  private publishFailing = false;
  private readonly sql;

  constructor(parts: FleetParts) {
    this.parts = parts;
    const s = parts.db.s;
    this.sql = {
      notify: { name: 'fleet-notify', text: 'SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p' },
      save: {
        name: 'fleet-save',
        text: `INSERT INTO ${s}.hub_agents (hub_id, agents, saved_at) VALUES ($1, $2::jsonb, clock_timestamp())
          ON CONFLICT (hub_id) DO UPDATE SET agents = EXCLUDED.agents, saved_at = EXCLUDED.saved_at`,
      },
      load: {
        name: 'fleet-load',
        text: `SELECT hub_id, agents, extract(epoch from clock_timestamp() - saved_at)::float8 AS age_s
          FROM ${s}.hub_agents ORDER BY hub_id`,
      },
      forget: { name: 'fleet-forget', text: `DELETE FROM ${s}.hub_agents WHERE hub_id = $1` },
    };
  }

  /** Open the listening connection; resolves once LISTEN is in place (open waits for it). */
  async start(): Promise<void> {
    this.listener = await this.listen();
  }

  /** Whether the listening connection is up (for tests and the hub's status). */
  get listening(): boolean {
    return this.listener !== null;
  }

  publish(message: FleetMessage): void {
    if (this.closed) return;
    try {
      this.outgoing.push(...payloadsOf(this.hubId, message));
    } catch (error) {
      this.parts.log(`mittelo hub: a fleet message could not be encoded (${errorText(error)}); dropped`);
      return;
    }
    if (!this.sending) this.sending = this.send();
  }

  onMessage(listener: (message: FleetMessage) => void): void {
    this.messageListeners.push(listener);
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  async saveAgents(agents: AgentInfo[]): Promise<void> {
    try {
      await this.parts.db.withClient((client) =>
        client.query({ ...this.sql.save, values: [this.hubId, JSON.stringify(agents)] }),
      );
    } catch (error) {
      throw this.parts.db.fault(error, 'write');
    }
  }

  async loadAgents(): Promise<FleetAgents[]> {
    return this.parts.db.read<FleetAgents>(this.sql.load);
  }

  /** Stop listening and forget this hub's agents (before the pool ends). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.sending;
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => {});
    try {
      await this.parts.db.withClient((client) => client.query({ ...this.sql.forget, values: [this.hubId] }));
    } catch (error) {
      this.parts.log(`mittelo hub: could not remove this hub's agents from the fleet (${errorText(error)})`);
    }
  }

  // ---- internals ----

  /** Send what was published, one statement per turn's messages, until nothing is left. */
  private async send(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.outgoing.length > 0) {
      const payloads = this.outgoing;
      this.outgoing = [];
      try {
        await this.parts.db.withClient((client) =>
          client.query({ ...this.sql.notify, values: [this.parts.channel, payloads] }),
        );
        if (this.publishFailing) {
          this.publishFailing = false;
          this.parts.log('mittelo hub: fleet messages are sent again');
        }
      } catch (error) {
        if (!this.publishFailing) {
          this.publishFailing = true;
          this.parts.log(
            `mittelo hub: fleet messages to the other hubs could not be sent (${errorText(error)}); dropped (hubs also poll the database)`,
          );
        }
      }
    }
    this.sending = null;
  }

  private async listen(): Promise<pg.Client> {
    const client = new pg.Client(clientConfig(this.parts.target, this.parts.settings));
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (note) => {
      if (note.channel === this.parts.channel && note.payload) this.received(note.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.parts.channel}"`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw error;
    }
    return client;
  }

  private received(payload: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload) as Envelope;
    } catch {
      return; // not one of ours
    }
    if (!envelope || typeof envelope !== 'object' || envelope.hub === this.hubId) return;
    const message = envelope.message;
    if (!message || typeof message !== 'object' || typeof message.kind !== 'string') return;
    for (const listener of this.messageListeners) {
      try {
        listener(message);
      } catch (error) {
        this.parts.log(`mittelo hub: a fleet message listener failed: ${errorText(error)}`);
      }
    }
  }

  /** The listening connection broke: open it again, with backoff, until closed. */
  private lost(client: pg.Client): void {
    if (this.closed || this.listener !== client) return;
    this.listener = null;
    client.removeAllListeners('end');
    client.end().catch(() => {});
    this.lostSince = Date.now();
    this.parts.log(
      `mittelo hub: lost the fleet channel to ${this.parts.target.where}; reconnecting (other hubs' news waits until then)`,
    );
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectDelay * (0.75 + Math.random() / 2);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.reconnect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private async reconnect(): Promise<void> {
    let client: pg.Client;
    try {
      client = await this.listen();
    } catch {
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.listener = client;
    this.reconnectDelay = RECONNECT_FIRST_MS;
    const seconds = this.lostSince === null ? 0 : (Date.now() - this.lostSince) / 1000;
    this.lostSince = null;
    this.parts.log(`mittelo hub: the fleet channel is back after ${seconds.toFixed(1)} s`);
    for (const listener of this.reconnectListeners) {
      try {
        listener();
      } catch (error) {
        this.parts.log(`mittelo hub: a fleet reconnect listener failed: ${errorText(error)}`);
      }
    }
  }
}
