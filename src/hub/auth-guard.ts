/**
 * Limits for connections that have not authenticated yet, on hubs started with a token (issue 10):
 * a deadline for `hello`, a cap on how many may wait at once, and a growing delay for addresses
 * that send wrong tokens. Pure bookkeeping (the clock is a parameter); tcp-server.ts applies it.
 * A hub without a token needs none of this: every connection is authenticated from the start, and
 * v0.1 clients, which never say hello, must keep working there exactly as before.
 */
import { isIP } from 'node:net';
import { MitteloError } from '../errors.ts';

export interface WrongTokenBackoffPolicy {
  /** Wrong tokens an address may send before its hellos are slowed down (typos cost nothing). */
  freeFailures: number;
  /** The first delay; it doubles with each further wrong token, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** An address that sent no wrong token for this long starts afresh. */
  forgetAfterMs: number;
  /** Addresses remembered at once; past it, the one quiet for longest is forgotten. */
  maxAddresses: number;
}

export interface AuthLimits {
  /** A connection that has not authenticated this long after connecting is closed. */
  helloTimeoutMs: number;
  /** Connections not yet authenticated at once; past it, the oldest is closed. */
  maxUnauthenticated: number;
  backoff: WrongTokenBackoffPolicy;
}

export const AUTH_LIMIT_DEFAULTS: AuthLimits = {
  helloTimeoutMs: 10_000,
  maxUnauthenticated: 64,
  backoff: {
    freeFailures: 3,
    baseDelayMs: 100,
    maxDelayMs: 5_000,
    forgetAfterMs: 60_000,
    maxAddresses: 4096,
  },
};

/** The defaults with `overrides` applied; a non-positive limit is a programming error, said so. */
export function resolveAuthLimits(overrides: {
  helloTimeoutMs?: number | undefined;
  maxUnauthenticated?: number | undefined;
  backoff?: Partial<WrongTokenBackoffPolicy> | undefined;
}): AuthLimits {
  const limits: AuthLimits = {
    helloTimeoutMs: overrides.helloTimeoutMs ?? AUTH_LIMIT_DEFAULTS.helloTimeoutMs,
    maxUnauthenticated: overrides.maxUnauthenticated ?? AUTH_LIMIT_DEFAULTS.maxUnauthenticated,
    backoff: { ...AUTH_LIMIT_DEFAULTS.backoff, ...stripUndefined(overrides.backoff ?? {}) },
  };
  const positive: Array<[string, number]> = [
    ['helloTimeoutMs', limits.helloTimeoutMs],
    ['maxUnauthenticated', limits.maxUnauthenticated],
    ['backoff.maxAddresses', limits.backoff.maxAddresses],
  ];
  const nonNegative: Array<[string, number]> = [
    ['backoff.freeFailures', limits.backoff.freeFailures],
    ['backoff.baseDelayMs', limits.backoff.baseDelayMs],
    ['backoff.maxDelayMs', limits.backoff.maxDelayMs],
    ['backoff.forgetAfterMs', limits.backoff.forgetAfterMs],
  ];
  for (const [name, value] of positive) {
    if (!(Number.isFinite(value) && value > 0)) {
      throw new MitteloError('bad_request', `hub option ${name} must be a positive number, got ${value}`);
    }
  }
  for (const [name, value] of nonNegative) {
    if (!(Number.isFinite(value) && value >= 0)) {
      throw new MitteloError('bad_request', `hub option ${name} must be 0 or more, got ${value}`);
    }
  }
  return limits;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The delay before checking the next hello of an address that has sent `failures` wrong tokens. */
export function backoffDelayMs(failures: number, policy: WrongTokenBackoffPolicy): number {
  if (failures < policy.freeFailures) return 0;
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failures - policy.freeFailures));
}

/**
 * Who is slowed down: an IPv4 address, or an IPv6 /64 (one host usually owns a whole /64, so
 * counting single IPv6 addresses would let it pick a fresh one for every guess).
 */
export function addressKey(remoteAddress: string | undefined): string {
  if (!remoteAddress) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped) return mapped[1]!;
  if (isIP(remoteAddress) !== 6) return remoteAddress;
  const [head = '', tail = ''] = remoteAddress.toLowerCase().split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = remoteAddress.includes('::') ? (tail ? tail.split(':') : []) : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

interface Failures {
  count: number;
  lastAt: number;
  /** When the next hello from this address may be checked. */
  nextCheckAt: number;
}

/**
 * Wrong tokens per address. A hello from an address in back-off waits before it is checked, and
 * hellos from one address are checked one at a time (each reserves the next turn), so opening
 * many connections in parallel does not multiply the guesses. The right token still works: it
 * only waits its turn.
 */
export class WrongTokenBackoff {
  private readonly policy: WrongTokenBackoffPolicy;
  /** Ordered by last failure, oldest first: forgetting and evicting both take from the front. */
  private readonly entries = new Map<string, Failures>();

  constructor(policy: WrongTokenBackoffPolicy) {
    this.policy = policy;
  }

  get size(): number {
    return this.entries.size;
  }

  /** How long to wait before checking a hello from `address` that arrived at `now` (reserves that turn). */
  reserveCheck(address: string, now: number): number {
    this.forgetQuiet(now);
    const entry = this.entries.get(address);
    if (!entry) return 0;
    const delay = backoffDelayMs(entry.count, this.policy);
    if (delay === 0) return 0;
    const at = Math.max(now, entry.nextCheckAt);
    entry.nextCheckAt = at + delay;
    return at - now;
  }

  /** A hello from `address` carried a wrong token (checked at `now`). */
  recordFailure(address: string, now: number): void {
    this.forgetQuiet(now);
    const entry = this.entries.get(address) ?? { count: 0, lastAt: now, nextCheckAt: now };
    this.entries.delete(address);
    entry.count += 1;
    entry.lastAt = now;
    entry.nextCheckAt = Math.max(entry.nextCheckAt, now + backoffDelayMs(entry.count, this.policy));
    if (this.entries.size >= this.policy.maxAddresses) {
      const quietest = this.entries.keys().next().value;
      if (quietest !== undefined) this.entries.delete(quietest);
    }
    this.entries.set(address, entry);
  }

  /** The delay a hello from `address` would get now, without reserving a turn (for messages). */
  currentDelayMs(address: string): number {
    return backoffDelayMs(this.entries.get(address)?.count ?? 0, this.policy);
  }

  private forgetQuiet(now: number): void {
    for (const [address, entry] of this.entries) {
      if (now - entry.lastAt < this.policy.forgetAfterMs) return;
      this.entries.delete(address);
    }
  }
}

/**
 * The connections of one hub that have not authenticated yet, oldest first, and the wrong-token
 * back-off of their addresses. Past the cap the OLDEST is dropped rather than the newest refused:
 * a flood that fills every slot and keeps them full (reconnecting as each deadline passes) would
 * otherwise lock every real client out, while dropping the oldest means a real client, which says
 * hello within one round trip, is served unless the flood opens `maxUnauthenticated` connections
 * inside that round trip. Authenticated connections never count.
 */
export class AuthGuard<C> {
  readonly limits: AuthLimits;
  readonly backoff: WrongTokenBackoff;
  private readonly waiting = new Set<C>();

  constructor(limits: AuthLimits) {
    this.limits = limits;
    this.backoff = new WrongTokenBackoff(limits.backoff);
  }

  get unauthenticated(): number {
    return this.waiting.size;
  }

  /** A new connection; returns the oldest waiting ones to drop so at most the cap remain. */
  admit(connection: C): C[] {
    this.waiting.add(connection);
    const dropped: C[] = [];
    for (const oldest of this.waiting) {
      if (this.waiting.size <= this.limits.maxUnauthenticated) break;
      this.waiting.delete(oldest);
      dropped.push(oldest);
    }
    return dropped;
  }

  /** The connection authenticated, or is gone: it no longer counts. */
  settled(connection: C): void {
    this.waiting.delete(connection);
  }
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** The line a connection gets when its hello deadline passes. */
export function helloDeadlineMessage(limits: AuthLimits, waitingOnBackoff: boolean): string {
  const base = `no hello with the token within ${seconds(limits.helloTimeoutMs)}: this hub requires a token, so send {"method":"hello","params":{"token":"..."}} within ${seconds(limits.helloTimeoutMs)} of connecting (mittelo clients: --token or MITTELO_TOKEN); closing the connection`;
  if (!waitingOnBackoff) return base;
  return `${base}. Its hello was still waiting its turn: this address sent wrong tokens recently, so its hellos are checked one at a time, up to ${seconds(limits.backoff.maxDelayMs)} apart. Fix the clients on this address that use a wrong token, or let them stop for a minute.`;
}

/** The line the oldest unauthenticated connection gets when the cap is reached. */
export function evictedMessage(limits: AuthLimits): string {
  return `too many connections waiting to authenticate (${limits.maxUnauthenticated} at once): closing this one, the oldest. Reconnect and send hello with the token right after connecting; if this keeps happening, something is opening connections to the hub without authenticating.`;
}
