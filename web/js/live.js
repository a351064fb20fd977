// How live data reaches the components: hub events arrive in batches (at most a few renders a
// second however busy the hub), and a "reload" after every reconnect, since events may have been
// missed. Plus the timing helpers the components share.
import { useEffect, useRef, useState } from 'preact/hooks';

const FLUSH_MS = 200;

export function createLive() {
  const listeners = new Set();
  let queue = [];
  let scheduled = false;
  const deliver = (batch) => {
    for (const listener of listeners) listener(batch);
  };
  const flush = () => {
    scheduled = false;
    const events = queue;
    queue = [];
    deliver({ events, reload: false });
  };
  return {
    push(event) {
      queue.push(event);
      if (scheduled) return;
      scheduled = true;
      setTimeout(flush, FLUSH_MS);
    },
    reload() {
      deliver({ events: [], reload: true });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Calls the latest `handler` with each batch `{events, reload}`. */
export function useLive(live, handler) {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => live.subscribe((batch) => latest.current(batch)), [live]);
}

/** The time now (ms), refreshed every `everyMs`: for "3 s ago" and the moving chart. */
export function useNow(everyMs) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/**
 * A function that runs the latest `fn` at most once per `ms`: the first call at once, later ones
 * folded into one trailing call so the last change is never lost.
 */
export function useThrottled(fn, ms) {
  const latest = useRef(fn);
  latest.current = fn;
  const state = useRef({ last: 0, timer: null });
  useEffect(() => () => clearTimeout(state.current.timer), []);
  const call = useRef(() => {
    const s = state.current;
    if (s.timer) return;
    const run = () => {
      s.timer = null;
      s.last = Date.now();
      latest.current();
    };
    const wait = s.last + ms - Date.now();
    if (wait <= 0) run();
    else s.timer = setTimeout(run, wait);
  });
  return call.current;
}

/** `value`, but only after it stopped changing for `ms` (typing in a search box). */
export function useDebounced(value, ms) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}
