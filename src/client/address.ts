/**
 * Where a hub is: `host:port`, `tcp://host:port` (plain TCP) or `tls://host:port` (TLS), one or
 * several (comma-separated, for failover). `mittelo hub --print-url` prints an address in this
 * form (`MITTELO_HUB tcp://127.0.0.1:8765`). Parsing errors are `bad_request`, naming the address.
 */
import { isIP } from 'node:net';
import { MitteloError } from '../errors.ts';

export interface HubAddress {
  host: string;
  port: number;
  /** Connect with TLS. Unset: the client's default (HubClientOptions.tls). */
  tls?: boolean | undefined;
}

/** An address as code may give it: an object, or a string as written on the command line. */
export type HubAddressInput = string | HubAddress;

export const DEFAULT_HUB_PORT = 8765;

const FORM = 'write host:port, tcp://host:port or tls://host:port (IPv6 in brackets: [::1]:8765)';

/** Parse one address; a missing port is 8765. Throws MitteloError `bad_request` with the fix. */
export function parseHubAddress(text: string): HubAddress {
  const raw = text.trim();
  if (raw === '') throw new MitteloError('bad_request', `empty hub address: ${FORM}`);
  let rest = raw;
  let tls: boolean | undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name === 'tls') tls = true;
    else if (name === 'tcp') tls = false;
    else {
      const hint = name === 'http' || name === 'https' ? ' (a REST URL: give the TCP port instead)' : '';
      throw new MitteloError(
        'bad_request',
        `bad hub address "${raw}": unknown scheme ${name}://${hint}; ${FORM}`,
      );
    }
    rest = raw.slice(scheme[0].length).replace(/\/$/, '');
  }
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (isIP(rest) === 6) {
    host = rest; // a bare IPv6 address: no port can follow it unambiguously
  } else {
    const colon = rest.lastIndexOf(':');
    host = colon === -1 ? rest : rest.slice(0, colon);
    portText = colon === -1 ? undefined : rest.slice(colon + 1);
  }
  if (host === '' || /[\s/]/.test(host) || (host.includes(':') && isIP(host) !== 6)) {
    throw new MitteloError('bad_request', `bad hub address "${raw}": no host name; ${FORM}`);
  }
  let port = DEFAULT_HUB_PORT;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
    if (!(port >= 1 && port <= 65535)) {
      throw new MitteloError('bad_request', `bad hub address "${raw}": the port must be 1-65535; ${FORM}`);
    }
  }
  return tls === undefined ? { host, port } : { host, port, tls };
}

/** `a:1, tls://b:2` -> two addresses; empty items are skipped; none at all is an error. */
export function parseHubList(text: string): HubAddress[] {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new MitteloError('bad_request', `no hub address in "${text}": ${FORM}`);
  return items.map(parseHubAddress);
}

/** Resolve an input against the client's default for TLS. */
export function toHubAddress(input: HubAddressInput, defaultTls: boolean): Required<HubAddress> {
  const address = typeof input === 'string' ? parseHubAddress(input) : input;
  return { host: address.host, port: address.port, tls: address.tls ?? defaultTls };
}

/** `127.0.0.1:8765`, `tls://hub.example:8765`, `[::1]:8765`: plain addresses carry no scheme. */
export function formatHubAddress(address: HubAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.tls ? 'tls://' : ''}${host}:${address.port}`;
}
