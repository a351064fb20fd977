/**
 * Every process the bench starts is registered here, so that a normal end, an error or Ctrl-C
 * never leaves a hub or a load generator running, and the bench's temporary folder is removed.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

const running = new Set<ChildProcess>();
const folders = new Set<string>();
let installed = false;

/** Track a child until it exits. */
export function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Remove this folder when the bench ends, however it ends. */
export function removeOnExit(folder: string): void {
  folders.add(folder);
}

/** SIGKILL every tracked child that is still running (synchronous: usable from an exit handler). */
export function killAll(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  running.clear();
}

function removeFolders(): void {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  folders.clear();
}

/** Kill children and clean up on exit, Ctrl-C and SIGTERM. Call once, early. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    killAll();
    removeFolders();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every child process\n`);
      killAll();
      removeFolders();
      process.exit(130);
    });
  }
}
