/**
 * The environment and working directory every spawned backend gets. `MITTELO_SUBPROCESS_HOME`
 * moves HOME and the XDG folders into a writable sandbox (CLIs write caches and credentials
 * there); `MITTELO_SUBPROCESS_WORKDIR` sets where they run. The hub token never leaks into a
 * backend: a prompt-driven tool has no business holding it.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Variables a backend must not inherit. */
const WITHHELD = ['MITTELO_TOKEN'];

export interface SubprocessPlace {
  env: NodeJS.ProcessEnv;
  cwd: string | undefined;
}

export function subprocessPlace(
  extra: Record<string, string>,
  base: NodeJS.ProcessEnv = process.env,
): SubprocessPlace {
  const env: NodeJS.ProcessEnv = { ...base, ...extra };
  for (const name of WITHHELD) delete env[name];
  const home = base.MITTELO_SUBPROCESS_HOME;
  if (home) {
    const root = resolve(home);
    const folders = {
      HOME: root,
      XDG_CONFIG_HOME: join(root, '.config'),
      XDG_DATA_HOME: join(root, '.local', 'share'),
      XDG_STATE_HOME: join(root, '.local', 'state'),
      XDG_CACHE_HOME: join(root, '.cache'),
    };
    for (const [name, folder] of Object.entries(folders)) {
      mkdirSync(folder, { recursive: true });
      env[name] = folder;
    }
  }
  const workdir = base.MITTELO_SUBPROCESS_WORKDIR;
  if (workdir) mkdirSync(workdir, { recursive: true });
  return { env, cwd: workdir ? resolve(workdir) : undefined };
}
