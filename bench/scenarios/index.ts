/** Every scenario, in the order a full run measures them. */
import type { Scenario } from '../lib/measure.ts';
import { enqueueScenario } from './enqueue.ts';
import { enqueueManyScenario } from './enqueue-many.ts';
import { idleAgentsScenario } from './idle-agents.ts';
import { leaseAckScenario } from './lease-ack.ts';
import { leaseAckFinishedScenario } from './lease-ack-finished.ts';
import { memoryScenario } from './memory.ts';

export const SCENARIOS: Scenario[] = [
  enqueueScenario,
  enqueueManyScenario,
  leaseAckScenario,
  leaseAckFinishedScenario,
  memoryScenario,
  idleAgentsScenario,
];
