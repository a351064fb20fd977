/**
 * `shell`: runs `--shell-cmd` with the prompt on stdin. A command with no shell syntax is spawned
 * directly (no shell process per task: `cat` costs one spawn); anything with pipes, quotes,
 * variables or redirections goes through `/bin/sh -c` — never a login shell, whose profile
 * scripts cost a third of a second per task.
 */
import { MitteloError } from '../errors.ts';
import { findExecutable } from './find-executable.ts';
import { type Invocation, runInvocation } from './spawned.ts';
import { type Backend, type PreflightProblem, readyReport } from './types.ts';

/** Characters that mean the command needs a shell to be understood. */
const SHELL_SYNTAX = /[|&;<>()$`\\"'*?[\]#~={}%!\n]/;

/** Commands that exist only inside a shell (`exit 3`, `cd dir`), not as programs on PATH. */
const SHELL_BUILTINS = new Set([
  ':',
  '.',
  'alias',
  'break',
  'cd',
  'command',
  'continue',
  'eval',
  'exec',
  'exit',
  'export',
  'read',
  'readonly',
  'return',
  'set',
  'shift',
  'source',
  'times',
  'trap',
  'ulimit',
  'umask',
  'unset',
  'wait',
]);

export function shellInvocation(command: string): Invocation {
  const label = `shell command \`${command}\``;
  const [program, ...args] = command.trim().split(/\s+/);
  if (SHELL_SYNTAX.test(command) || SHELL_BUILTINS.has(program!)) {
    return { command: '/bin/sh', args: ['-c', command], label };
  }
  return { command: program!, args, label };
}

export function shellBackend(command: string | undefined): Backend {
  if (!command?.trim()) {
    throw new MitteloError(
      'bad_request',
      'the shell backend needs a command: --shell-cmd "your-program --flags" (it gets the prompt on stdin)',
    );
  }
  const invocation = shellInvocation(command);
  return {
    name: 'shell',
    run: (task, context) => runInvocation(invocation, task, context),
    preflight: async () => {
      const problems: PreflightProblem[] = [];
      if (!findExecutable(invocation.command)) {
        problems.push({
          severity: 'fail',
          message: `${invocation.command} is not on PATH`,
          fix: `install it, or give --shell-cmd a full path`,
        });
      }
      return readyReport('shell', problems);
    },
  };
}
