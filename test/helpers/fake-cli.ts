/**
 * Fake vendor CLIs for integration tests (test/fixtures/fake-clis/): executables named like the
 * real ones (`claude`, `codex`, ...) that accept the flags the drivers use and print what the real
 * CLIs were recorded printing. FAKE_CLI_MODE picks the behaviour of a prompt run.
 */
import { delimiter, join } from 'node:path';
import { REPO_ROOT } from './hub-process.ts';

export const FAKE_CLIS = join(REPO_ROOT, 'test', 'fixtures', 'fake-clis');

/** Credentials of the machine running the tests must not leak into what a test checks. */
const VENDOR_KEYS = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'OPENAI_API_KEY',
  'CODEX_API_KEY',
  'GEMINI_API_KEY',
  'GOOGLE_API_KEY',
  'GOOGLE_GENAI_USE_VERTEXAI',
  'GOOGLE_GENAI_USE_GCA',
  'KIMI_API_KEY',
  'MOONSHOT_API_KEY',
];

/**
 * Environment for an agent driving fake CLIs: the fakes first on PATH, `mode` for prompt runs, a
 * throwaway HOME (so no real credential file counts), no vendor keys unless given in `extra`, and
 * a short early-failure grace so retry loops end quickly.
 */
export function fakeCliEnv(mode: string, home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: `${FAKE_CLIS}${delimiter}${process.env.PATH ?? ''}`,
    HOME: home,
    FAKE_CLI_MODE: mode,
    MITTELO_EARLY_FAILURE_S: '0.5',
  };
  for (const key of VENDOR_KEYS) env[key] = '';
  return { ...env, ...extra };
}
