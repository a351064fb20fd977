/**
 * Newline-delimited framing with a hard size limit. A peer that sends a line longer than the
 * limit gets `onTooLarge` once and nothing more is buffered, so memory never grows with the size
 * of what was sent (a 50 MiB line costs at most `maxLineBytes` plus one socket chunk).
 */
export interface LineReaderOptions {
  maxLineBytes: number;
  onLine: (line: string) => void;
  onTooLarge: (bytesSeen: number) => void;
}

const NEWLINE = 0x0a;

export class LineReader {
  private readonly options: LineReaderOptions;
  /** Pieces of the current, unterminated line. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overflowed = false;

  constructor(options: LineReaderOptions) {
    this.options = options;
  }

  push(chunk: Buffer): void {
    if (this.overflowed) return;
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline === -1) break;
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      if (this.pendingBytes + piece.length > this.options.maxLineBytes) {
        this.overflow(this.pendingBytes + piece.length);
        return;
      }
      const line = this.pending.length === 0 ? piece : Buffer.concat([...this.pending, piece]);
      this.pending = [];
      this.pendingBytes = 0;
      this.options.onLine(line.toString('utf8'));
      if (this.overflowed) return;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.pendingBytes + rest.length > this.options.maxLineBytes) {
        this.overflow(this.pendingBytes + rest.length);
        return;
      }
      // Copy: the socket may reuse its buffer, and a small slice must not pin a large chunk.
      this.pending.push(Buffer.from(rest));
      this.pendingBytes += rest.length;
    }
  }

  /** Stop delivering lines (the connection is going away). */
  stop(): void {
    this.overflowed = true;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private overflow(bytesSeen: number): void {
    this.stop();
    this.options.onTooLarge(bytesSeen);
  }
}
