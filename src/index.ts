/** The library surface of the `mittelo` package. */

export type { HelloResult, HubClientOptions } from './client/hub-client.ts';
export { HubClient, HubError, HubUnreachableError } from './client/hub-client.ts';
export type { ErrorCode } from './errors.ts';
export { ERROR_CODES, MitteloError } from './errors.ts';
export type { HubEvent } from './hub/events.ts';
export type { AgentInfo } from './hub/registry.ts';
export { HUB_DEFAULTS, type HubConfig, type RunningHub, startHub } from './hub/start-hub.ts';
export { SqliteStore } from './store/sqlite/sqlite-store.ts';
export type { NewTask, Stats, Store, Task, TaskStatus } from './store/types.ts';
