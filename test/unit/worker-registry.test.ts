/** How the worker registry (src/hub/registry.ts) says an agent is gone, with a clock the tests move. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkerRegistry } from '../../src/hub/registry.ts';

describe('worker registry: disconnected agents', () => {
  const registry = (now: () => number) => new WorkerRegistry(() => {}, { quietSeconds: 60, now });

  it('an agent whose connection closed says since when, until it connects again', () => {
    let now = 1_000;
    const workers = registry(() => now);
    workers.connect({ worker_id: 'w', backend: 'echo' });
    assert.equal(workers.list()[0]!.disconnected_at, null);
    now = 1_010;
    workers.disconnect('w');
    const gone = workers.list()[0]!;
    assert.equal(gone.connected, false);
    assert.equal(gone.disconnected_at, 1_010);
    now = 1_020;
    workers.connect({ worker_id: 'w' });
    assert.equal(workers.list()[0]!.disconnected_at, null);
  });

  it('an agent without hello is there while its lease allows, then gone since its last contact', () => {
    let now = 1_000;
    const workers = registry(() => now);
    // A lease of 300 s after a 20 s long-poll: quiet for that long (plus some slack) is fine.
    workers.seen('v01', 320);
    now = 1_000 + 330;
    assert.equal(workers.list()[0]!.disconnected_at, null);
    now = 1_000 + 400;
    assert.equal(workers.list()[0]!.disconnected_at, 1_000);
    // Heard from again: there again.
    workers.seen('v01');
    assert.equal(workers.list()[0]!.disconnected_at, null);
  });

  it('an open connection counts as there however quiet it is (an unhealthy agent waits quietly)', () => {
    let now = 1_000;
    const workers = registry(() => now);
    workers.connect({ worker_id: 'sick' });
    workers.setHealth('sick', false, 'not logged in', null);
    now = 1_000 + 600;
    const [agent] = workers.list();
    assert.equal(agent!.connected, true);
    assert.equal(agent!.disconnected_at, null);
  });
});
