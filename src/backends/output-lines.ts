/**
 * A program's output cut into lines as it arrives, for live output: chunks may end mid-line or in
 * the middle of a UTF-8 character, a line may be huge (one JSON event holding a whole file), and
 * the last line may have no newline. Each complete line goes to `onLine` at once; `end()` hands
 * over what is left when the program exits.
 */
import { StringDecoder } from 'node:string_decoder';

/** Past this, a line is cut (the rest of it is dropped up to its newline): live output is a view. */
export const MAX_LIVE_LINE_CHARS = 64 * 1024;

export interface LineSplitter {
  write(chunk: Buffer): void;
  end(): void;
}

export function lineSplitter(onLine: (line: string) => void): LineSplitter {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  /** The current line passed the cap: skip to its newline. */
  let skipping = false;
  const deliver = (line: string) => {
    const whole = line.endsWith('\r') ? line.slice(0, -1) : line;
    const text = whole.length > MAX_LIVE_LINE_CHARS ? whole.slice(0, MAX_LIVE_LINE_CHARS) : whole;
    // A listener's failure must never break the run it watches.
    try {
      onLine(text);
    } catch {}
  };
  const take = (text: string) => {
    let from = 0;
    for (;;) {
      const newline = text.indexOf('\n', from);
      if (newline < 0) break;
      if (!skipping) deliver(pending + text.slice(from, newline));
      pending = '';
      skipping = false;
      from = newline + 1;
    }
    if (skipping) return;
    pending += text.slice(from);
    if (pending.length > MAX_LIVE_LINE_CHARS) {
      deliver(pending.slice(0, MAX_LIVE_LINE_CHARS));
      pending = '';
      skipping = true;
    }
  };
  return {
    write: (chunk) => take(decoder.write(chunk)),
    end: () => {
      take(decoder.end());
      if (pending && !skipping) deliver(pending);
      pending = '';
    },
  };
}
