/** `mittelo agent`: one agent leasing tasks from a hub and running them through one backend. */
import { Command, Option } from 'commander';
import { Agent } from '../../agent/agent.ts';
import { builtInBackendNames, createBackend } from '../../backends/registry.ts';
import {
  type AgentFlags,
  addAgentOptions,
  addWorkspaceOptions,
  agentOptionsFrom,
  describeWorkspace,
  exitCodeOf,
  reportPreflight,
  type WorkspaceFlags,
  workspaceOptionsFrom,
} from '../agent-flags.ts';
import {
  CliError,
  type ConnectionFlags,
  describeHubs,
  hubClientOptions,
  withConnectionOptions,
} from '../common.ts';
import { onStopSignals } from '../stop-signals.ts';

interface AgentCommandFlags extends AgentFlags, WorkspaceFlags, ConnectionFlags {
  backend: string;
  workerId?: string;
  once?: boolean;
  graceS: string;
}

export function agentCommand(): Command {
  const command = new Command('agent')
    .description('run one agent: lease tasks from the hub, run each through a backend, ack the result')
    .addOption(
      new Option('--backend <name>', `${builtInBackendNames().join(', ')}, or a folder backend`)
        .env('MITTELO_BACKEND')
        .default('echo'),
    )
    .addOption(new Option('--worker-id <id>', 'how the hub knows this agent (default <host>-<pid>-<hex>)'))
    .addOption(new Option('--once', 'lease once, run what came, exit'))
    .addOption(
      new Option('--grace-s <seconds>', 'on Ctrl-C, how long running tasks may finish').default('30'),
    );
  addAgentOptions(command);
  addWorkspaceOptions(command);
  command.action(async (flags: AgentCommandFlags) => {
    const { shared, settings } = agentOptionsFrom(flags);
    const connection = hubClientOptions(flags);
    const backend = createBackend(flags.backend, settings);
    // Checked once, before the agent connects: a bad repository or base ends here (exit 2).
    const workspace = await workspaceOptionsFrom(flags);
    if (flags.preflight) reportPreflight([await backend.preflight()], Boolean(flags.requireReady));
    const agent = new Agent({
      ...shared,
      ...workspace.options,
      ...connection,
      backend,
      workerId: flags.workerId,
      once: flags.once,
    });
    process.stderr.write(
      `mittelo agent ${agent.workerId}: backend ${backend.name}, up to ${shared.maxTasks} at once, hub ${describeHubs(connection.hubs)}\n`,
    );
    process.stderr.write(
      `mittelo agent ${agent.workerId}: ${describeWorkspace(workspace, [backend.name])}\n`,
    );
    const graceMs = Number(flags.graceS) * 1000;
    const release = onStopSignals((graceful) => void agent.stop(graceful ? graceMs : 0));
    const exit = await agent.run();
    release();
    const { done, failed, released } = agent.counts;
    process.stderr.write(
      `mittelo agent ${agent.workerId}: stopped (${done} done, ${failed} failed, ${released} released)\n`,
    );
    if (exit.code !== 0) throw new CliError(exit.reason, exitCodeOf(exit.code));
  });
  return withConnectionOptions(command);
}
