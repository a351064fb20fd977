/** Shared-token auth and the rule for where a hub without a token may listen. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { MitteloError } from '../errors.ts';

/** Constant-time comparison: hash both sides so their lengths cannot leak either. */
export function tokensMatch(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * Anyone who can reach the hub can take and answer its tasks, so a hub without a token listens
 * only on loopback unless the user says --insecure.
 */
export function checkBindPolicy(
  host: string,
  token: string | undefined,
  insecure: boolean,
  flag: string,
): void {
  if (token || insecure || isLoopbackHost(host)) return;
  throw new MitteloError(
    'bad_request',
    `refusing to listen on ${host} (${flag}) without a token: anyone who can reach it could take and answer tasks. ` +
      'Set --token (or MITTELO_TOKEN), or pass --insecure if this network is trusted.',
  );
}
