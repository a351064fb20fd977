/**
 * What a backend may do at each permission level (read, edit, full), and the CLI switches that
 * say so: one table, read by the drivers when they build a command line and by doctor and the run
 * header when they tell people what a backend will be allowed to do. Switches are the CLIs' own
 * (../shared/spec/BACKEND_FACTS.md §2 and §8): claude --permission-mode, codex -s, gemini
 * --approval-mode, opencode's OPENCODE_PERMISSION config, kiro-cli's --trust-tools.
 */
import type { Permissions } from './types.ts';

export interface PermissionSwitch {
  /** Arguments the CLI gets (where in its command line is the driver's business). */
  args?: string[];
  /** Environment the CLI gets. */
  env?: Record<string, string>;
}

/** opencode reads an inline permission config: each tool `allow`, `ask` or `deny`. */
const opencodePermission = (edit: string, bash: string, webfetch: string): PermissionSwitch => ({
  env: { OPENCODE_PERMISSION: JSON.stringify({ edit, bash, webfetch }) },
});

const CLAUDE: Record<Permissions, PermissionSwitch> = {
  // plan: claude looks and plans, and changes nothing.
  read: { args: ['--permission-mode', 'plan'] },
  edit: { args: ['--permission-mode', 'acceptEdits'] },
  full: { args: ['--permission-mode', 'bypassPermissions'] },
};

/** The switches of the CLI drivers that enforce a level, by backend name. */
const DRIVER_SWITCHES: Record<string, { cli: string; levels: Record<Permissions, PermissionSwitch> }> = {
  claude_code: { cli: 'claude', levels: CLAUDE },
  glm: { cli: 'claude', levels: CLAUDE },
  codex: {
    cli: 'codex exec',
    levels: {
      read: { args: ['-s', 'read-only'] },
      edit: { args: ['-s', 'workspace-write'] },
      full: { args: ['-s', 'danger-full-access'] },
    },
  },
  gemini: {
    cli: 'gemini',
    levels: {
      read: { args: ['--approval-mode', 'plan'] },
      edit: { args: ['--approval-mode', 'auto_edit'] },
      full: { args: ['--approval-mode', 'yolo'] },
    },
  },
  opencode: {
    cli: 'opencode run',
    levels: {
      read: opencodePermission('deny', 'deny', 'deny'),
      edit: opencodePermission('allow', 'deny', 'deny'),
      full: opencodePermission('allow', 'allow', 'allow'),
    },
  },
  kiro: {
    cli: 'kiro-cli chat',
    levels: {
      read: { args: ['--trust-tools=fs_read'] },
      edit: { args: ['--trust-tools=fs_read,fs_write'] },
      full: { args: ['--trust-all-tools'] },
    },
  },
};

/** Backends that answer with text and run no tools: every level is the same to them. */
const NO_TOOLS = new Set(['echo', 'mlx', 'openai']);

/** What a level means, in words. */
const MEANING: Record<Permissions, string> = {
  read: 'reads, changes nothing',
  edit: 'edits files in its workspace, runs no commands',
  full: 'anything, commands included, without asking',
};

/** The switches `backend` gets for `level`; null when the backend has none (not enforced). */
export function permissionSwitch(backend: string, level: Permissions): PermissionSwitch | null {
  return DRIVER_SWITCHES[backend]?.levels[level] ?? null;
}

/** The arguments a driver adds for `level` (empty when it has none). */
export function permissionArgs(backend: string, level: Permissions | undefined): string[] {
  return permissionSwitch(backend, level ?? 'read')?.args ?? [];
}

/** The environment a driver adds for `level` (empty when it has none). */
export function permissionEnv(backend: string, level: Permissions | undefined): Record<string, string> {
  return permissionSwitch(backend, level ?? 'read')?.env ?? {};
}

/**
 * What `backend` will be allowed to do at `level`, for doctor and the run header:
 * `edit (edits files in its workspace, runs no commands: claude --permission-mode acceptEdits)`.
 */
export function describePermissions(backend: string, level: Permissions): string {
  if (NO_TOOLS.has(backend)) return `${level} (answers only: ${backend} runs no tools)`;
  if (backend === 'kimi')
    return `${level} (not enforced: kimi --print has no permission switch; it decides which tools run)`;
  const driver = DRIVER_SWITCHES[backend];
  if (!driver) return `${level} (not enforced: ${backend} runs your program as it is)`;
  const { args, env } = driver.levels[level];
  const how = [
    ...Object.entries(env ?? {}).map(([name, value]) => `${name}='${value}'`),
    driver.cli,
    ...(args ?? []),
  ].join(' ');
  return `${level} (${MEANING[level]}: ${how})`;
}
