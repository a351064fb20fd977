/** `--agent backend=count` specs: what is accepted and what each mistake is told. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAgentSpec, planSwarm } from '../../src/agent/swarm.ts';

describe('parseAgentSpec', () => {
  it('reads backend=count', () => {
    assert.deepEqual(parseAgentSpec('echo=2'), { backend: 'echo', count: 2 });
    assert.deepEqual(parseAgentSpec(' claude_code=10 '), { backend: 'claude_code', count: 10 });
  });

  const mistakes: Array<[string, RegExp]> = [
    ['echo=x', /bad --agent "echo=x": the count must be a whole number from 1 to 1000/],
    ['echo=0', /the count must be a whole number/],
    ['echo=1.5', /the count must be a whole number/],
    ['echo=2000000', /from 1 to 1000/],
    ['=2', /bad --agent "=2": the backend name is missing/],
    ['echo', /bad --agent "echo": use name=count, for example --agent echo=2/],
    ['', /use name=count/],
  ];
  for (const [spec, message] of mistakes) {
    it(`refuses "${spec}" with a message that says how to write it`, () => {
      assert.throws(() => parseAgentSpec(spec), message);
    });
  }
});

describe('planSwarm', () => {
  it('resolves each backend once and checks it', async () => {
    const plan = await planSwarm([
      { backend: 'echo', count: 2 },
      { backend: 'echo', count: 1 },
    ]);
    assert.deepEqual([...plan.backends.keys()], ['echo']);
    assert.deepEqual(plan.reports, [{ backend: 'echo', ready: true, problems: [] }]);
  });

  it('refuses no agents and unknown backends before anything starts', async () => {
    await assert.rejects(planSwarm([]), /no agents given/);
    await assert.rejects(
      planSwarm([{ backend: 'nope', count: 1 }], { folders: [] }),
      /unknown backend "nope"/,
    );
  });
});
