/**
 * MLX (`mlx_lm.generate`, Apple silicon only): `<python> -m mlx_lm.generate --model <m> --prompt -
 * --max-tokens 1024`, the prompt on stdin (`--prompt -` reads it there, and stdin escapes nothing,
 * where an argv prompt has its `\n` rewritten). The answer is printed between two `==========`
 * lines, followed by `Prompt:` / `Generation:` / `Peak memory:` statistics.
 *
 * The interpreter is `MITTELO_MLX_PYTHON`, else `python3`. A DriverSpec names its binaries as a
 * fixed list, so the spec is built from an environment (`mlxSpec`); the registered one is built
 * from the agent's own environment when this module loads, which is the environment every
 * `mittelo` command runs its backends with. (A `BackendSettings.env` given to the registry
 * reaches the runs, but not this choice: use `driverBackend(mlxSpec(env), {env})` for that.)
 */

import { type ClassifyRule, stripAnsi } from '../classify.ts';
import { findExecutable } from '../find-executable.ts';
import { runProcess } from '../process-runner.ts';
import { subprocessPlace } from '../subprocess-env.ts';
import type { PreflightProblem } from '../types.ts';
import type { DriverContext, DriverSpec, ParsedAnswer } from './types.ts';

export const MLX_DEFAULT_MODEL = 'mlx-community/Qwen2.5-1.5B-Instruct-4bit';
const MAX_TOKENS = '1024';
const SEPARATOR = '==========';
/** `import mlx_lm` loads MLX and transformers: a few seconds on a cold disk. */
const CHECK_TIMEOUT_MS = 30_000;
const NOT_APPLE_FIX =
  "use the `openai` driver with llama.cpp's llama-server or Ollama instead (see docs/MLX_GUIDE.md)";

/** Where the driver runs; a parameter so the Apple-silicon check can be tested anywhere. */
export interface Host {
  platform: string;
  arch: string;
}

export function mlxPython(env: NodeJS.ProcessEnv): string {
  return env.MITTELO_MLX_PYTHON || 'python3';
}

export function isAppleSilicon(host: Host): boolean {
  return host.platform === 'darwin' && host.arch === 'arm64';
}

export function mlxRules(python: string): readonly ClassifyRule[] {
  const install = `${python} -m pip install -U mlx-lm (in the Python that runs it; MITTELO_MLX_PYTHON picks another Python)`;
  return [
    {
      kind: 'not_installed',
      pattern: /No module named '?mlx(_lm)?\b|mlx-lm not available/,
      fix: install,
    },
    {
      kind: 'auth',
      pattern:
        /RepositoryNotFoundError|Repository Not Found|GatedRepoError|Cannot access gated repo|401 Client Error|403 Client Error/,
      fix: 'check the model id (MITTELO_MLX_MODEL or --model); for a gated or private model, `huggingface-cli login` (or set HF_TOKEN) with an account that has access',
    },
    {
      kind: 'rate_limit',
      pattern: /429 Client Error|Too Many Requests/i,
      fix: 'wait and retry; `huggingface-cli login` raises the Hugging Face download limits',
    },
    {
      kind: 'config',
      pattern: /\[metal::malloc\]|greater than the maximum allowed buffer size|Insufficient Memory/,
      fix: "the model does not fit in this Mac's memory: pick a smaller or 4-bit model with MITTELO_MLX_MODEL (or --model)",
    },
    {
      kind: 'config',
      pattern: /RuntimeError:[^\n]*\b(Metal|metal|Apple)\b|\[metal::|\[METAL\]/,
      fix: `MLX runs only on Apple silicon Macs; elsewhere ${NOT_APPLE_FIX}`,
    },
    {
      kind: 'config',
      pattern: /Model type \S+ not supported|HFValidationError|Repo id must be in the form/,
      fix: 'set MITTELO_MLX_MODEL (or --model) to an MLX model: a Hugging Face repo id such as mlx-community/Qwen2.5-1.5B-Instruct-4bit, or a local folder that exists',
    },
    {
      kind: 'config',
      pattern: /error: unrecognized arguments|error: argument /,
      fix: `this mlx-lm does not take the flags Mittelö uses: ${python} -m pip install -U mlx-lm`,
    },
    {
      kind: 'network',
      pattern:
        /LocalEntryNotFoundError|check your internet connection|ConnectionError|ConnectError|NameResolutionError|Could not resolve host|Name or service not known|nodename nor servname|Max retries exceeded|huggingface\.co/,
      fix: 'the model is downloaded from huggingface.co on first use: check the network (DNS, proxy, HF_ENDPOINT), or download it once while online (`huggingface-cli download <model>`), or point MITTELO_MLX_MODEL at a local folder',
    },
  ];
}

const STAT = {
  prompt: /^Prompt: (\d+) tokens, ([\d.]+) tokens-per-sec$/m,
  generation: /^Generation: (\d+) tokens, ([\d.]+) tokens-per-sec$/m,
  memory: /^Peak memory: ([\d.]+) GB$/m,
};

/** mlx-lm's warning about a model close to the memory limit lands right after the first separator. */
const MEMORY_WARNING = /^\[WARNING\] Generating with a model that requires [^\n]*\n/;

/** The answer between the separators, and the token counts from the statistics below them. */
export function parseMlx(stdout: string): ParsedAnswer {
  const lines = stripAnsi(stdout).replace(/\r\n/g, '\n').split('\n');
  const first = lines.indexOf(SEPARATOR);
  const last = lines.lastIndexOf(SEPARATOR);
  if (first === -1 || last === first) {
    // No separators (`--verbose False`, or an mlx-lm that prints differently): everything but the
    // deprecation notice `python -m mlx_lm.generate` prints first.
    return {
      text: lines
        .filter((line) => !line.startsWith('Calling `python -m mlx_lm'))
        .join('\n')
        .trim(),
    };
  }
  const text = lines
    .slice(first + 1, last)
    .join('\n')
    .replace(MEMORY_WARNING, '')
    .trim();
  const stats = lines.slice(last + 1).join('\n');
  const usage: Record<string, unknown> = {};
  const prompt = STAT.prompt.exec(stats);
  if (prompt) {
    usage.input_tokens = Number(prompt[1]);
    usage.prompt_tokens_per_sec = Number(prompt[2]);
  }
  const generation = STAT.generation.exec(stats);
  if (generation) {
    usage.output_tokens = Number(generation[1]);
    usage.generation_tokens_per_sec = Number(generation[2]);
  }
  const memory = STAT.memory.exec(stats);
  if (memory) usage.peak_memory_gb = Number(memory[1]);
  return Object.keys(usage).length > 0 ? { text, usage } : { text };
}

async function runPython(python: string, args: string[], context: DriverContext) {
  const place = subprocessPlace({}, context.env);
  return runProcess(
    { command: findExecutable(python, context.env) ?? python, args, env: place.env, cwd: place.cwd },
    { timeoutMs: CHECK_TIMEOUT_MS, maxOutputBytes: 256 * 1024 },
  );
}

/**
 * Apple silicon first (on any other machine nothing else matters), then `import mlx_lm`, then
 * whether this mlx-lm reads `--prompt -` from stdin: an older one would answer the prompt "-".
 */
export async function mlxChecks(
  python: string,
  context: DriverContext,
  host: Host,
): Promise<PreflightProblem[]> {
  if (!isAppleSilicon(host)) {
    return [
      {
        severity: 'fail',
        kind: 'config',
        message: `MLX needs Apple silicon (this machine is ${host.platform}/${host.arch})`,
        fix: NOT_APPLE_FIX,
      },
    ];
  }
  const imported = await runPython(python, ['-c', 'import mlx_lm'], context);
  if (imported.exitCode !== 0) {
    const said =
      stripAnsi(imported.stderr || imported.stdout)
        .trim()
        .split('\n')
        .at(-1) ?? '';
    return [
      {
        severity: 'fail',
        kind: 'not_installed',
        message: `mlx-lm is not installed in ${python}${imported.timedOut ? ' (import timed out)' : ''}: ${said || `exit ${imported.exitCode}`}`,
        fix: `${python} -m pip install -U mlx-lm (or set MITTELO_MLX_PYTHON to a Python that has it)`,
      },
    ];
  }
  const help = await runPython(python, ['-m', 'mlx_lm.generate', '--help'], context);
  if (help.exitCode === 0 && !/stdin/.test(help.stdout + help.stderr)) {
    return [
      {
        severity: 'fail',
        kind: 'config',
        message: `this mlx-lm cannot read the prompt from stdin (\`${python} -m mlx_lm.generate --help\` does not mention \`--prompt -\`)`,
        fix: `${python} -m pip install -U mlx-lm`,
      },
    ];
  }
  return [];
}

/** The MLX driver for an environment (the interpreter) and a host (the platform check). */
export function mlxSpec(
  env: NodeJS.ProcessEnv,
  host: Host = { platform: process.platform, arch: process.arch },
): DriverSpec {
  const python = mlxPython(env);
  return {
    name: 'mlx',
    title: 'MLX (mlx-lm)',
    binaries: [python],
    modelEnv: 'MITTELO_MLX_MODEL',
    invocation: (prompt, context) => ({
      args: [
        '-m',
        'mlx_lm.generate',
        '--model',
        context.model ?? MLX_DEFAULT_MODEL,
        '--prompt',
        '-',
        '--max-tokens',
        MAX_TOKENS,
      ],
      input: prompt,
      // Download progress bars would fill the error tail of a failed run with carriage returns.
      env: { HF_HUB_DISABLE_PROGRESS_BARS: '1' },
    }),
    parse: (stdout) => parseMlx(stdout),
    rules: mlxRules(python),
    versionArgs: ['--version'],
    // mlx_lm's --help needs mlx_lm importable, which only Apple silicon has: checked in extraChecks.
    requiredFlags: [],
    extraChecks: (context) => mlxChecks(python, context, host),
    setup: [
      `${python} -m pip install -U mlx-lm`,
      `optional: export MITTELO_MLX_PYTHON=<the python that has mlx-lm> MITTELO_MLX_MODEL=<an mlx-community model, default ${MLX_DEFAULT_MODEL}>`,
    ],
  };
}

export const mlx: DriverSpec = mlxSpec(process.env);
