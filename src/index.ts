/** The library surface of the `mittelo` package. */

export type {
  CallOptions,
  HelloResult,
  HubAddress,
  HubAddressInput,
  HubClientOptions,
} from './client/hub-client.ts';
export {
  ClientClosedError,
  ConnectionClosedError,
  HubClient,
  HubError,
  HubUnreachableError,
  parseHubAddress,
  parseHubList,
  RequestTimeoutError,
  TlsError,
} from './client/hub-client.ts';
export type { ClientErrorCode, ErrorCode, HubErrorCode } from './errors.ts';
export { CLIENT_ERROR_CODES, ERROR_CODES, HUB_ERROR_CODES, MitteloError } from './errors.ts';
export { HUB_DEFAULTS, type HubConfig, type RunningHub, startHub } from './hub/start-hub.ts';
export type { AgentInfo, HubEvent, NewTask, Pause, Stats, Task, TaskStatus } from './protocol/model.ts';
export { SqliteStore } from './store/sqlite/sqlite-store.ts';
export type { Store } from './store/types.ts';
