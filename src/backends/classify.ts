/**
 * The failure classifier: from a run's exit code and output to one kind (`auth`, `network`,
 * `not_installed`, `config`, `rate_limit`, `timeout`, `budget`, `unknown`; FailureKind in
 * types.ts) and a one-line fix. Data, not
 * code: each driver lists its rules (patterns seen from the real CLI), and the generic rules
 * below catch what every program shares (DNS failures, HTTP 429, a missing command).
 */
import type { FailureKind } from './types.ts';

export interface ClassifyRule {
  kind: FailureKind;
  /** Matched against stdout + stderr with ANSI codes stripped. */
  pattern?: RegExp;
  /** Matches when the process exited with this code (alone, or with `pattern`). */
  exitCode?: number;
  fix: string;
}

export interface Classified {
  kind: FailureKind;
  fix?: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]|\u001b[78]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

export const GENERIC_RULES: readonly ClassifyRule[] = [
  {
    kind: 'not_installed',
    exitCode: 127,
    fix: 'install the program or put it on PATH for the agent',
  },
  {
    kind: 'not_installed',
    pattern: /command not found/,
    fix: 'install the program or put it on PATH for the agent',
  },
  {
    kind: 'rate_limit',
    pattern: /\b429\b|rate[ _-]?limit|too many requests|quota exceeded|RESOURCE_EXHAUSTED|overloaded/i,
    fix: 'wait and retry (the task is retried with backoff while attempts remain), or lower the number of agents for this backend',
  },
  {
    kind: 'network',
    pattern:
      /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|getaddrinfo|Name does not resolve|Could not resolve host|fetch failed|Unable to connect|network is unreachable/i,
    fix: 'check the network connection (DNS, proxy, firewall) to the model API',
  },
];

/** The first rule that matches, the driver's own before the generic ones; else `unknown`. */
export function classify(
  rules: readonly ClassifyRule[],
  run: { exitCode: number | null; output: string },
): Classified {
  const text = stripAnsi(run.output);
  for (const rule of [...rules, ...GENERIC_RULES]) {
    if (rule.exitCode !== undefined && rule.exitCode !== run.exitCode) continue;
    if (rule.pattern && !rule.pattern.test(text)) continue;
    if (rule.exitCode === undefined && !rule.pattern) continue;
    return { kind: rule.kind, fix: rule.fix };
  }
  return { kind: 'unknown' };
}
