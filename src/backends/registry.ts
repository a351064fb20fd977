/**
 * The backend registry: from a name to a Backend. Built-in backends first (echo, shell), then
 * the CLI drivers (drivers/index.ts), then folder backends. An unknown name fails fast,
 * listing what is known and how to add a folder backend.
 */
import { MitteloError } from '../errors.ts';
import { driverBackend } from './drivers/driver-backend.ts';
import { DRIVERS } from './drivers/index.ts';
import { echoBackend } from './echo.ts';
import { backendFolders, findFolderBackend, folderBackend, listFolderBackends } from './folder.ts';
import { openaiBackend } from './openai.ts';
import { shellBackend } from './shell.ts';
import type { Backend } from './types.ts';

export interface BackendSettings {
  /** The command for `shell`. */
  shellCmd?: string | undefined;
  /** Where folder backends are looked up (default: backendFolders()). */
  folders?: string[];
  /** --model for the CLI drivers (else their MITTELO_*_MODEL variable). */
  model?: string | undefined;
  /** How long a CLI may keep retrying after its first retry signal before it is stopped. */
  earlyFailureMs?: number | undefined;
  /** The environment drivers read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

type BackendFactory = (settings: BackendSettings) => Backend;

const BUILT_IN: Record<string, BackendFactory> = {
  echo: () => echoBackend(),
  shell: (settings) => shellBackend(settings.shellCmd),
  openai: (settings) => openaiBackend(settings),
};

/** echo, shell, then every CLI driver. */
export function builtInBackendNames(): string[] {
  return [...Object.keys(BUILT_IN), ...Object.keys(DRIVERS)];
}

/** Every backend name usable here: built-in ones, then folder backends. */
export function knownBackendNames(settings: BackendSettings = {}): string[] {
  const folder = listFolderBackends(settings.folders ?? backendFolders());
  return [...new Set([...builtInBackendNames(), ...folder])];
}

export function createBackend(name: string, settings: BackendSettings = {}): Backend {
  const factory = BUILT_IN[name];
  if (factory) return factory(settings);
  const driver = DRIVERS[name];
  if (driver) return driverBackend(driver, settings);
  const folders = settings.folders ?? backendFolders();
  const found = findFolderBackend(name, folders);
  if (found) return folderBackend(found);
  throw new MitteloError(
    'bad_request',
    `unknown backend "${name}". Known backends: ${knownBackendNames(settings).join(', ')}. ` +
      `To add one, create an executable backends/${name}/run that reads the prompt on stdin and ` +
      `prints the answer (looked up in MITTELO_BACKENDS_DIR, ./backends, then the package's backends/).`,
  );
}
