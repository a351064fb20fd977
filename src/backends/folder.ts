/**
 * Folder backends: `backends/<name>/run` — any program that reads the prompt on stdin and writes
 * the answer on stdout (exit 0; errors on stderr). Looked up in `MITTELO_BACKENDS_DIR` (a
 * PATH-style list), then `./backends`, then the `backends/` folder shipped with the package.
 * `run.py` runs with python3, `run.js`/`run.mjs` with this Node, an executable `run` as itself,
 * and a `run` that is not executable with bash.
 */
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isExecutableFile } from './find-executable.ts';
import { type Invocation, runInvocation } from './spawned.ts';
import { type Backend, readyReport } from './types.ts';

const ENTRY_NAMES = ['run', 'run.py', 'run.js', 'run.mjs', 'run.sh'];
/** Folders whose names start with `_` (like `_template`) are examples, not backends. */
const HIDDEN_PREFIX = '_';

/** The package's own backends/ folder (two levels up from src/backends or dist/backends). */
const PACKAGE_BACKENDS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'backends');

export function backendFolders(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  const fromEnv = (env.MITTELO_BACKENDS_DIR ?? '').split(delimiter).filter(Boolean);
  const folders = [...fromEnv.map((f) => resolve(cwd, f)), resolve(cwd, 'backends'), PACKAGE_BACKENDS];
  return [...new Set(folders)];
}

export interface FolderBackendEntry {
  name: string;
  entry: string;
}

/** The first `run` file for this name, in lookup order; null when there is none. */
export function findFolderBackend(name: string, folders = backendFolders()): FolderBackendEntry | null {
  if (name.startsWith(HIDDEN_PREFIX) || name.includes('/') || name.includes('..')) return null;
  for (const folder of folders) {
    for (const entryName of ENTRY_NAMES) {
      const entry = join(folder, name, entryName);
      if (existsSync(entry)) return { name, entry };
    }
  }
  return null;
}

/** Every folder backend name visible from here, for "known backends" lists. */
export function listFolderBackends(folders = backendFolders()): string[] {
  const names = new Set<string>();
  for (const folder of folders) {
    let entries: string[];
    try {
      entries = readdirSync(folder);
    } catch {
      continue;
    }
    for (const name of entries) if (findFolderBackend(name, [folder])) names.add(name);
  }
  return [...names].sort();
}

export function folderInvocation(found: FolderBackendEntry): Invocation {
  const label = `folder backend ${found.name} (${found.entry})`;
  if (found.entry.endsWith('.py')) return { command: 'python3', args: [found.entry], label };
  if (found.entry.endsWith('.js') || found.entry.endsWith('.mjs'))
    return { command: process.execPath, args: [found.entry], label };
  if (isExecutableFile(found.entry)) return { command: found.entry, args: [], label };
  return { command: 'bash', args: [found.entry], label };
}

export function folderBackend(found: FolderBackendEntry): Backend {
  const invocation = folderInvocation(found);
  return {
    name: found.name,
    run: (task, context) => runInvocation(invocation, task, context),
    preflight: async () => readyReport(found.name),
  };
}
