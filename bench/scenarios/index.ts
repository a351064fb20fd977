/** Every scenario, in the order a full run measures them. */
import type { Scenario } from '../lib/measure.ts';
import { agentDrainScenario } from './agent-drain.ts';
import { agentLatencyScenario } from './agent-latency.ts';
import { bullmqScenario } from './bullmq.ts';
import { enqueueScenario } from './enqueue.ts';
import { enqueueManyScenario } from './enqueue-many.ts';
import { idleAgentsScenario } from './idle-agents.ts';
import { leaseAckScenario } from './lease-ack.ts';
import { leaseAckCapsScenario } from './lease-ack-caps.ts';
import { leaseAckFinishedScenario } from './lease-ack-finished.ts';
import { liveOutputScenario } from './live-output.ts';
import { memoryScenario } from './memory.ts';
import { postgresScenario } from './postgres.ts';
import { pruneLeaseScenario } from './prune-lease.ts';
import { runPackScenario } from './run-pack.ts';
import { shellCatScenario } from './shell-cat.ts';

export const SCENARIOS: Scenario[] = [
  enqueueScenario,
  enqueueManyScenario,
  leaseAckScenario,
  leaseAckFinishedScenario,
  leaseAckCapsScenario,
  liveOutputScenario,
  pruneLeaseScenario,
  memoryScenario,
  idleAgentsScenario,
  agentLatencyScenario,
  agentDrainScenario,
  shellCatScenario,
  runPackScenario,
  postgresScenario,
  bullmqScenario,
];
