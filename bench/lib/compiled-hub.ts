/**
 * The hub as users run it: compiled to JavaScript by tsc (what `npm install` builds into dist/),
 * not type-stripped from src/ at start. Stripping TypeScript at run time costs resident memory
 * (tens of MB), which matters for the memory figures. Built from the current src/ into the
 * bench's temporary folder, so a stale dist/ is never measured and the repository is untouched.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { track } from './children.ts';
import { REPO_ROOT } from './hub-process.ts';

let building: Promise<CompiledHub> | null = null;

export interface CompiledHub {
  /** The compiled CLI entry (…/cli/main.js), or null when the build failed. */
  entry: string | null;
  /** tsc's complaints (the build may still have produced a usable entry). */
  problem: string | null;
}

/** Compile src/ once per bench run into `folder`. */
export function compiledHub(folder: string): Promise<CompiledHub> {
  building ??= build(join(folder, 'compiled'));
  return building;
}

function build(root: string): Promise<CompiledHub> {
  const outDir = join(root, 'dist');
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', outDir];
  args.push('--declaration', 'false', '--sourceMap', 'false');
  const child = track(spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  return new Promise((resolve) => {
    child.once('error', (error) => resolve({ entry: null, problem: `tsc did not start: ${error.message}` }));
    child.once('exit', (code) => {
      const entry = join(outDir, 'cli', 'main.js');
      if (!existsSync(entry)) {
        resolve({ entry: null, problem: `tsc produced no ${entry} (exit ${code}): ${output.slice(0, 500)}` });
        return;
      }
      // The real package.json (ES modules, and the version the CLI reads at start), and packages
      // resolved from the repository's node_modules as from dist/.
      copyFileSync(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
      symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
      resolve({ entry, problem: code === 0 ? null : `tsc reported errors: ${output.slice(0, 300)}` });
    });
  });
}
