/** Commands that talk to a hub (run may start its own); main.ts adds them after `hub`. */
import type { Command } from 'commander';
import { agentCommand } from './agent.ts';
import { applyCommand } from './apply.ts';
import { backendCheckCommand } from './backend-check.ts';
import { budgetCommand } from './budget.ts';
import { cancelCommand } from './cancel.ts';
import { dashboardCommand } from './dashboard.ts';
import { diffCommand } from './diff.ts';
import { doctorCommand } from './doctor.ts';
import { enqueueCommand } from './enqueue.ts';
import { getCommand } from './get.ts';
import { limitCommand } from './limit.ts';
import { logsCommand } from './logs.ts';
import { matrixCommand } from './matrix.ts';
import { pauseCommand } from './pause.ts';
import { pruneCommand } from './prune.ts';
import { resumeCommand } from './resume.ts';
import { retryCommand } from './retry.ts';
import { runCommand } from './run.ts';
import { runsCommand } from './runs.ts';
import { shutdownCommand } from './shutdown.ts';
import { smokeCommand } from './smoke.ts';
import { statsCommand } from './stats.ts';
import { statusCommand } from './status.ts';
import { swarmCommand } from './swarm.ts';
import { systemRunCommand } from './system-run.ts';
import { verifyDriversCommand } from './verify-drivers.ts';
import { waitCommand } from './wait.ts';

export function clientCommands(): Command[] {
  return [
    runCommand(),
    runsCommand(),
    agentCommand(),
    swarmCommand(),
    enqueueCommand(),
    statusCommand(),
    statsCommand(),
    dashboardCommand(),
    getCommand(),
    logsCommand(),
    diffCommand(),
    applyCommand(),
    waitCommand(),
    cancelCommand(),
    retryCommand(),
    pruneCommand(),
    pauseCommand(),
    resumeCommand(),
    limitCommand(),
    budgetCommand(),
    shutdownCommand(),
    backendCheckCommand(),
    doctorCommand(),
    smokeCommand(),
    systemRunCommand(),
    matrixCommand(),
    verifyDriversCommand(),
  ];
}
