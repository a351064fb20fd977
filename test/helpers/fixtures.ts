/**
 * Tasks and agents as the hub hands them out, for tests that feed them to pure functions (screens,
 * notifications) or store them as they are (`load`, `saveAgents`). Each test sets only the fields
 * it is about; the rest are the ones below.
 */
import { newAgentInfo } from '../../src/hub/registry.ts';
import type { AgentInfo, Task } from '../../src/protocol/model.ts';

/** The moment the fixtures are made at (Unix seconds). */
export const FIXTURE_NOW = 1_800_000_000;

/** A task that finished (done) a little before FIXTURE_NOW, with `fields` on top. */
export function makeTask(id: number, fields: Partial<Task> = {}): Task {
  return {
    task_id: id,
    prompt: `prompt ${id}`,
    status: 'done',
    created_at: FIXTURE_NOW - 60,
    updated_at: FIXTURE_NOW - 30,
    leased_until: null,
    worker_id: 'w-1',
    result: `result ${id}`,
    error: null,
    backend: null,
    tags: [],
    priority: 0,
    attempts: 1,
    max_attempts: 1,
    lease_expirations: 0,
    available_at: 0,
    timeout_s: null,
    error_kind: null,
    error_fix: null,
    duration_ms: 5,
    usage: null,
    metadata: null,
    lease_token: null,
    max_cost_usd: null,
    cost_usd: null,
    cost_basis: null,
    output_schema: null,
    parsed: null,
    resume: false,
    session_id: null,
    workspace: null,
    base_ref: null,
    permissions: null,
    worktree: null,
    ...fields,
  };
}

/** A connected, healthy echo agent with two tasks done, last heard from just now, with `fields` on top. */
export function makeAgent(workerId: string, fields: Partial<AgentInfo> = {}): AgentInfo {
  return {
    ...newAgentInfo(workerId, FIXTURE_NOW - 100),
    backend: 'echo',
    client: 'mittelo-agent',
    connected: true,
    tasks_done: 2,
    last_contact: FIXTURE_NOW - 1,
    ...fields,
  };
}
