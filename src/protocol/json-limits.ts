/**
 * What every request's params must pass before their schema sees them: nesting depth and
 * well-formed Unicode. Both in one walk with an explicit stack, never recursion, so a value nested
 * 100,000 levels deep is refused instead of overflowing the stack here, in zod, in JSON.stringify
 * or in SQLite's json functions.
 *
 * Depth counts objects and arrays below params: in `{"metadata": {"a": [1]}}` the metadata object
 * is level 1 and the array level 2. A string with a lone UTF-16 surrogate (JSON `"\ud800"`) would
 * be stored as U+FFFD, silently changing what was sent, so it is refused too; a surrogate pair
 * (an emoji) is valid Unicode and passes.
 */
import { MitteloError } from '../errors.ts';

/** How many levels of objects and arrays params may hold (enqueue's metadata gets all of them). */
export const MAX_PARAMS_DEPTH = 64;

/** How many steps of a too-deep value's path the error message shows. */
const PATH_SHOWN = 4;

/**
 * A surrogate code unit that is not half of a pair. With the `u` flag a pair is one code point
 * (not a surrogate), so only lone halves match; `search` gives the UTF-16 index of the first.
 * Used only to say where, once `isWellFormed` (much faster) said there is one.
 */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** One container on the walk's stack; the path is rebuilt from `parent` only for an error. */
interface Frame {
  value: object;
  depth: number;
  parent: Frame | null;
  /** The key (or array index) under which `parent` holds this value. */
  key: string | number | null;
}

/**
 * Throw `bad_request` if `params` nests objects and arrays deeper than `maxDepth`, or holds a
 * string (a value or an object key) with a lone UTF-16 surrogate. The message names the field.
 */
export function checkParamsJson(params: object, maxDepth = MAX_PARAMS_DEPTH): void {
  const stack: Frame[] = [{ value: params, depth: 0, parent: null, key: null }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const { value } = frame;
    if (Array.isArray(value)) {
      for (let index = 0; index < value.length; index += 1) {
        checkItem(frame, index, value[index], stack, maxDepth);
      }
      continue;
    }
    for (const key of Object.keys(value)) {
      if (!isWellFormed(key)) {
        throw loneSurrogate(`${describePath(frame) || 'params'} has a key that`, key);
      }
      checkItem(frame, key, (value as Record<string, unknown>)[key], stack, maxDepth);
    }
  }
}

/** Check one value held by `frame` under `key`; a container goes on the stack to be walked. */
function checkItem(
  frame: Frame,
  key: string | number,
  item: unknown,
  stack: Frame[],
  maxDepth: number,
): void {
  if (typeof item === 'string') {
    if (!isWellFormed(item)) throw loneSurrogate(describePath(frame, key), item);
  } else if (item !== null && typeof item === 'object') {
    if (frame.depth + 1 > maxDepth) {
      throw new MitteloError(
        'bad_request',
        `params are nested deeper than ${maxDepth} levels of objects and arrays (the hub's limit), at ${describePath(frame, key, PATH_SHOWN)}; send flatter JSON`,
        { max_depth: maxDepth },
      );
    }
    stack.push({ value: item, depth: frame.depth + 1, parent: frame, key });
  }
}

/** `String.prototype.isWellFormed` (Node 20+, but not in the ES2023 lib this project compiles with). */
function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

function loneSurrogate(what: string, text: string): MitteloError {
  return new MitteloError(
    'bad_request',
    `${what} contains a lone UTF-16 surrogate at index ${text.search(LONE_SURROGATE)}; send valid Unicode`,
  );
}

/**
 * `tasks[3].metadata.notes`: the path from params to `key` under `frame`. With `maxSteps`, only the
 * first steps (a path 10,000 levels deep is no use in a message).
 */
function describePath(frame: Frame, key?: string | number, maxSteps = Number.POSITIVE_INFINITY): string {
  const keys: Array<string | number> = key === undefined ? [] : [key];
  for (let at: Frame | null = frame; at !== null && at.key !== null; at = at.parent) keys.push(at.key);
  keys.reverse();
  let path = '';
  for (const [step, part] of keys.slice(0, maxSteps).entries()) {
    if (typeof part === 'number') path += `[${part}]`;
    else path += step === 0 ? part : `.${part}`;
  }
  return keys.length > maxSteps ? `${path}…` : path;
}
