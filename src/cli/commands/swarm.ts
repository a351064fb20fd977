/** `mittelo swarm --agent echo=2 --agent shell=1`: several agents in one process against a hub. */
import { Command, Option } from 'commander';
import { type AgentSpec, parseAgentSpec, planSwarm, Swarm } from '../../agent/swarm.ts';
import {
  type AgentFlags,
  addAgentOptions,
  agentOptionsFrom,
  exitCodeOf,
  reportPreflight,
} from '../agent-flags.ts';
import {
  CliError,
  type ConnectionFlags,
  describeHubs,
  hubClientOptions,
  withConnectionOptions,
} from '../common.ts';
import { onStopSignals } from '../stop-signals.ts';

interface SwarmFlags extends AgentFlags, ConnectionFlags {
  agent?: AgentSpec[];
  graceS: string;
}

export function agentSpecOption(): Option {
  return new Option('--agent <backend=count>', 'start count agents on this backend (repeatable)').argParser(
    (value: string, previous: AgentSpec[] | undefined) => [...(previous ?? []), parseAgentSpec(value)],
  );
}

export function describeSpecs(specs: readonly AgentSpec[]): string {
  return specs.map((spec) => `${spec.backend}×${spec.count}`).join(', ');
}

export function swarmCommand(): Command {
  const command = new Command('swarm')
    .description('run several agents against a hub, for example --agent echo=2 --agent shell=1')
    .addOption(agentSpecOption())
    .addOption(
      new Option('--grace-s <seconds>', 'on Ctrl-C, how long running tasks may finish').default('30'),
    );
  addAgentOptions(command);
  command.action(async (flags: SwarmFlags) => {
    const specs = flags.agent ?? [];
    const { shared, settings } = agentOptionsFrom(flags);
    const connection = hubClientOptions(flags);
    const plan = await planSwarm(specs, settings);
    if (flags.preflight) reportPreflight(plan.reports, Boolean(flags.requireReady));
    const swarm = new Swarm(
      {
        ...shared,
        ...connection,
        specs,
        log: (workerId, message) => process.stderr.write(`[${workerId}] ${message}\n`),
      },
      plan,
    );
    process.stderr.write(
      `mittelo swarm: ${swarm.agents.length} agents (${describeSpecs(specs)}) on hub ${describeHubs(connection.hubs)}; Ctrl-C to stop\n`,
    );
    const graceMs = Number(flags.graceS) * 1000;
    const release = onStopSignals((graceful) => void swarm.stop(graceful ? graceMs : 0));
    const exits = await swarm.run();
    release();
    const { done, failed, released } = swarm.counts;
    process.stderr.write(`mittelo swarm: stopped (${done} done, ${failed} failed, ${released} released)\n`);
    const bad = exits.find((exit) => exit.code !== 0);
    if (bad) throw new CliError(bad.reason, exitCodeOf(bad.code));
  });
  return withConnectionOptions(command);
}
