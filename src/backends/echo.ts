/** `echo`: answers `echo:<prompt>` without spawning anything. For trying a swarm and for benchmarks. */
import { type Backend, readyReport } from './types.ts';

export function echoBackend(): Backend {
  return {
    name: 'echo',
    instant: true,
    run: async (task) => ({ ok: true, output: `echo:${task.prompt}` }),
    preflight: async () => readyReport('echo'),
  };
}
