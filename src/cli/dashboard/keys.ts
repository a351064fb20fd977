/**
 * What a key does on the dashboard, as a pure function of the key and what is on screen, so the
 * terminal loop only has to carry out the answer.
 */
import { type DashboardFilter, nextBackend, nextStatus } from './snapshot.ts';

/** The fields of node's readline keypress events that matter here. */
export interface Key {
  name?: string | undefined;
  sequence?: string | undefined;
  ctrl?: boolean | undefined;
  meta?: boolean | undefined;
}

export type KeyAction =
  | { type: 'quit' }
  | { type: 'refresh' }
  | { type: 'filter'; filter: DashboardFilter }
  /** Only the screen changed (the search text being typed). */
  | { type: 'redraw' }
  | { type: 'none' };

export interface KeyContext {
  /** The search text being typed after `/`, or null when not typing. */
  draft: string | null;
  filter: DashboardFilter;
  backends: Iterable<string>;
}

/** The hub refuses longer searches. */
const MAX_SEARCH = 1000;

export function handleKey(key: Key, context: KeyContext): { draft: string | null; action: KeyAction } {
  const { draft, filter } = context;
  if (key.ctrl && key.name === 'c') return { draft: null, action: { type: 'quit' } };
  if (draft !== null) return typing(key, draft, filter);
  if (key.ctrl || key.meta) return { draft, action: { type: 'none' } };
  switch (key.name) {
    case 'q':
      return { draft, action: { type: 'quit' } };
    case 's':
      return { draft, action: { type: 'filter', filter: { ...filter, status: nextStatus(filter.status) } } };
    case 'b':
      return {
        draft,
        action: {
          type: 'filter',
          filter: { ...filter, backend: nextBackend(filter.backend, context.backends) },
        },
      };
    case 'r':
      return { draft, action: { type: 'refresh' } };
  }
  if (key.sequence === '/') return { draft: filter.search ?? '', action: { type: 'redraw' } };
  return { draft, action: { type: 'none' } };
}

function typing(
  key: Key,
  draft: string,
  filter: DashboardFilter,
): { draft: string | null; action: KeyAction } {
  switch (key.name) {
    case 'return':
    case 'enter': {
      const search = draft.trim();
      return { draft: null, action: { type: 'filter', filter: { ...filter, search: search || null } } };
    }
    case 'escape':
      return { draft: null, action: { type: 'redraw' } };
    case 'backspace':
      return { draft: [...draft].slice(0, -1).join(''), action: { type: 'redraw' } };
  }
  if (key.ctrl && key.name === 'u') return { draft: '', action: { type: 'redraw' } };
  const text = key.sequence ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control keys are not text to search for.
  if (key.ctrl || key.meta || text === '' || /[\u0000-\u001f\u007f-\u009f]/.test(text)) {
    return { draft, action: { type: 'none' } };
  }
  return { draft: (draft + text).slice(0, MAX_SEARCH), action: { type: 'redraw' } };
}
