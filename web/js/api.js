// The REST API (docs/REST.md) as promises. Every call carries the token in the Authorization
// header; a 401 tells the page to ask for the token again.
import { currentToken } from './token.js';

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function authHeaders() {
  const token = currentToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** `onUnauthorized(hadToken)` runs on every 401, before the call rejects. */
export function createApi({ onUnauthorized }) {
  async function request(method, path, body) {
    const headers = { accept: 'application/json', ...authHeaders() };
    // Every write says JSON, also without a body: the hub refuses other writes, so that no other
    // web page can send it one (docs/REST.md, "Web pages").
    if (body !== undefined || method !== 'GET') headers['content-type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (error) {
      throw new ApiError(0, 'unreachable', `the hub did not answer (${error.message}): is it still running?`);
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: reported below with the status
    }
    if (response.ok) return data;
    if (response.status === 401) onUnauthorized(Boolean(headers.authorization));
    throw new ApiError(
      response.status,
      data?.code ?? `http_${response.status}`,
      data?.error ?? `the hub answered HTTP ${response.status}`,
      data?.details,
    );
  }

  return {
    stats: async () => (await request('GET', '/stats')).stats,
    /** `query`: status, backend, search, before_id, limit; empty values are left out. */
    listTasks: (query) => {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries(query)) {
        if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
      }
      return request('GET', `/tasks?${params}`);
    },
    getTask: async (taskId) => (await request('GET', `/tasks/${taskId}`)).task,
    /**
     * A task's live output the hub keeps (GET /tasks/:id/output): `{lines, last_seq, lost}`, the
     * lines after `afterSeq` (all kept ones when null), at most `limit` (the hub's default when null).
     */
    taskOutput: (taskId, afterSeq = null, limit = null) => {
      const params = new URLSearchParams();
      if (afterSeq !== null) params.set('after_seq', String(afterSeq));
      if (limit !== null) params.set('limit', String(limit));
      const query = params.size > 0 ? `?${params}` : '';
      return request('GET', `/tasks/${taskId}/output${query}`);
    },
    enqueue: async (task) => (await request('POST', '/tasks', task)).task_id,
    /** Every failed task, or only `taskIds`; resolves with how many went back to the queue. */
    retryFailed: async (taskIds) =>
      (await request('POST', '/tasks/retry_failed', taskIds ? { task_ids: taskIds } : {})).retried,
    cancel: async (taskId) => (await request('POST', `/tasks/${taskId}/cancel`)).task,
    agents: async () => (await request('GET', '/agents')).agents,
    /** The whole answer: `agents`, and `queued_by_backend` (absent from older hubs). */
    agentsReport: () => request('GET', '/agents'),
    /** The pauses in force (GET /pauses), and lifting one (null: the whole queue's). */
    pauses: async () => (await request('GET', '/pauses')).pauses,
    resume: (backend) => request('POST', '/resume', backend ? { backend } : {}),
    /** The caps on leasing with their use (GET /limits). */
    limits: async () => (await request('GET', '/limits')).limits,
    /** Spend per UTC day and backend, the last `days` days (GET /spend): `{today, rows}`. */
    spend: (days) => request('GET', `/spend?days=${days}`),
    /** The daily budgets with what was spent against them today (GET /budgets). */
    budgets: async () => (await request('GET', '/budgets')).budgets,
    /** Tasks finished and enqueued per minute, the last day (docs/REST.md, GET /stats/history). */
    statsHistory: () => request('GET', '/stats/history'),
    /** The hub's version and addresses (GET /hub). */
    hubInfo: () => request('GET', '/hub'),
  };
}
