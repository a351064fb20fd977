/** Ports for tests that need one nothing listens on. */
import net from 'node:net';

/**
 * A loopback port nothing listens on: one the OS just handed out and took back. Another process
 * could take it in between, which is fine for "nobody answers here" and for a server started next.
 */
export async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
