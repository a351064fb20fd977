/**
 * The one PostgreSQL server of the postgres scenario: MITTELO_BENCH_PG_URL when given (a superuser
 * URL: fresh databases are created on it and dropped afterwards), else a throwaway cluster from
 * scripts/postgres-server.mjs, stopped and removed when the scenario ends (and
 * by its own exit hook and watchdog when the bench dies). The bench never installs PostgreSQL; it
 * says what to install instead.
 */
import {
  type ConnectedServer,
  connectServer,
  findServerBinaries,
  type StartedCluster,
  startCluster,
} from '../../scripts/postgres-server.mjs';

export type BenchPostgres = (ConnectedServer | StartedCluster) & {
  /** For the report: "PostgreSQL 15.18 (throwaway cluster)" or "MITTELO_BENCH_PG_URL". */
  description: string;
};

/**
 * Debian's defaults for the memory that matters to throughput (the test cluster keeps it small);
 * fsync and synchronous_commit stay on: both sides are measured with durable commits.
 */
const BENCH_SETTINGS = { shared_buffers: '128MB', max_connections: '200' };

/** Run `use` with the run's PostgreSQL; databases made through it are dropped, a cluster stopped. */
export async function withBenchPostgres<T>(use: (server: BenchPostgres) => Promise<T>): Promise<T> {
  const given = process.env.MITTELO_BENCH_PG_URL;
  let server: BenchPostgres;
  if (given) {
    server = Object.assign(connectServer(given), { description: 'the server of MITTELO_BENCH_PG_URL' });
  } else {
    const binaries = findServerBinaries();
    if (binaries.bindir === undefined) throw new Error(`${binaries.problem} (or set MITTELO_BENCH_PG_URL)`);
    // In the system's temporary folder, not the bench's: as root the server runs as the postgres
    // user, who cannot enter the bench's private folder. It removes itself (stop, exit hook).
    const cluster = await startCluster({ bindir: binaries.bindir, settings: BENCH_SETTINGS });
    server = Object.assign(cluster, {
      description: `PostgreSQL ${cluster.version}, a throwaway cluster on port ${cluster.port}`,
    });
  }
  try {
    return await use(server);
  } finally {
    await server.stop();
  }
}
