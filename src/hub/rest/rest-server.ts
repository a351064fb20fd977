import type { AddressInfo } from 'node:net';
import type { Hub } from '../hub.ts';
export async function startRestServer(
  _hub: Hub,
  _options: { host: string; port: number; token?: string | undefined },
): Promise<{ address: AddressInfo; close(): Promise<void> }> {
  throw new Error('REST server: being written');
}
