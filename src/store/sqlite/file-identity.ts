/**
 * Is the file the hub has open still the one at the database path? Deleting (or replacing) the
 * database under a running hub leaves SQLite writing to an unlinked file: every answer says OK,
 * and the next start finds an empty (or another) database. So the store looks before committing:
 * the open file must still have a link, and the path must still name it.
 *
 * Looking costs two system calls, so it is done at most every CHECK_INTERVAL_MS. Writes committed
 * between a deletion and its discovery are not lost: they are in the unlinked file, which the
 * store then copies to a rescue file (see sqlite-store.ts).
 */
import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { MitteloError } from '../../errors.ts';

const CHECK_INTERVAL_MS = 25;

export class FileIdentity {
  private readonly path: string;
  /** Our own read-only descriptor of the file: it keeps an unlinked file readable (/proc/PID/fd). */
  readonly descriptor: number;
  private readonly dev: number;
  private readonly ino: number;
  private checkedAt = 0;

  constructor(path: string) {
    this.path = path;
    this.descriptor = openSync(path, 'r');
    const stat = fstatSync(this.descriptor);
    this.dev = stat.dev;
    this.ino = stat.ino;
  }

  /** Throws a `storage_error` when the file was deleted or replaced (at most every 25 ms looks). */
  check(force = false): void {
    const now = Date.now();
    if (!force && now - this.checkedAt < CHECK_INTERVAL_MS) return;
    this.checkedAt = now;
    const problem = this.problem();
    if (problem) {
      throw new MitteloError(
        'storage_error',
        `the database file ${this.path} was ${problem} while the hub was running; writes are refused from now on. Stop the hub; see the hub's log for the copy of the data it saved`,
        { db: this.path, reason: problem },
      );
    }
  }

  close(): void {
    closeSync(this.descriptor);
  }

  private problem(): string | null {
    const now = statSync(this.path, { throwIfNoEntry: false });
    if (now && (now.ino !== this.ino || now.dev !== this.dev)) return 'replaced by another file';
    // The path may be gone, or still name our file through a link we no longer count.
    if (!now || fstatSync(this.descriptor).nlink === 0) return 'deleted';
    return null;
  }
}
