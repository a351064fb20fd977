/** Every CLI driver, by backend name. The backend registry offers these after echo and shell. */
import { claudeCode, glm } from './claude-code.ts';
import { codex } from './codex.ts';
import { gemini } from './gemini.ts';
import { kimi } from './kimi.ts';
import { kiro } from './kiro.ts';
import { mlx } from './mlx.ts';
import { opencode } from './opencode.ts';
import type { DriverSpec } from './types.ts';

export const DRIVERS: Readonly<Record<string, DriverSpec>> = {
  claude_code: claudeCode,
  glm,
  codex,
  opencode,
  mlx,
  gemini,
  kimi,
  kiro,
};
