/**
 * `npm run bench`: the hub benchmarks from the issue, measured against real hub processes, each
 * figure printed next to its target and the Python v0.1 baseline. See docs/BENCHMARKS.md.
 *
 *   npm run bench                       full run (~5 minutes on 2 cores)
 *   npm run bench -- --quick            small sizes, a smoke check
 *   npm run bench -- --only enqueue     one scenario (comma-separate several)
 *   npm run bench -- --cpu-prof         also profile our hub (bench/results/profiles/)
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { installCleanup, killAll } from './lib/children.ts';
import { BenchContext } from './lib/context.ts';
import { REPO_ROOT } from './lib/hub-process.ts';
import { locateHubload } from './lib/hubload.ts';
import { machineBusyPercent } from './lib/proc-stats.ts';
import { formatNumber, marginPercent, summaryTable, verdict } from './lib/report.ts';
import { type RunInfo, writeResults } from './lib/results-file.ts';
import { locateV01 } from './lib/v01-baseline.ts';
import { SCENARIOS } from './scenarios/index.ts';

const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
/** Background load (% of one core) above which the figures are flagged as taken on a busy machine. */
const BUSY_WARNING_PERCENT = 15;
const USAGE = `usage: npm run bench -- [--quick] [--only <name>[,<name>...]] [--repeat <n>] [--cpu-prof]
                          [--wait-quiet <s>] [--list]

  --quick             small sizes and one repetition: a smoke check, not figures to quote
  --only <names>      run only these scenarios, comma-separated (see --list)
  --repeat <n>        fresh-hub repetitions per throughput figure, median reported (default 3; --quick 1)
  --cpu-prof          run our hub under node --cpu-prof; print its top self-time functions
  --wait-quiet <s>    before each scenario, wait up to s seconds for other processes to quiet down
  --list              list the scenarios and exit

environment:
  MITTELO_HUBLOAD         path of hubload.mjs (default: ../shared/bench/hubload.mjs from the repository root)
  MITTELO_BENCH_V01_DIR   a checkout of taituo/mittelo: measure the v0.1 hub in the same run
  MITTELO_BENCH_PYTHON    python for the v0.1 hub (default python3)`;

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function parseCommandLine() {
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        repeat: { type: 'string' },
        'cpu-prof': { type: 'boolean', default: false },
        'wait-quiet': { type: 'string', default: '0' },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    });
  }
  try {
    parsed = parse();
  } catch (error) {
    fail((error as Error).message);
  }
  const { values } = parsed;
  const known = SCENARIOS.map((scenario) => scenario.name);
  const only = values.only
    ?.split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of only ?? []) {
    if (!known.includes(name))
      fail(`--only ${name}: no such scenario; the scenarios are ${known.join(', ')}`);
  }
  let repeat = values.quick ? 1 : 3;
  if (values.repeat !== undefined) {
    repeat = Number(values.repeat);
    if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) {
      fail(`--repeat must be a whole number from 1 to 20, got "${values.repeat}"`);
    }
  }
  const waitQuiet = Number(values['wait-quiet']);
  if (!Number.isFinite(waitQuiet) || waitQuiet < 0 || waitQuiet > 3600) {
    fail(`--wait-quiet takes seconds from 0 to 3600, got "${values['wait-quiet']}"`);
  }
  return { ...values, only, repeat, waitQuiet };
}

async function main(): Promise<number> {
  const options = parseCommandLine();
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (options.list) {
    for (const scenario of SCENARIOS) process.stdout.write(`${scenario.name.padEnd(14)} ${scenario.title}\n`);
    return 0;
  }
  installCleanup();

  const hubload = locateHubload();
  const v01 = locateV01();
  const startedAt = new Date();
  const profileDir = options['cpu-prof']
    ? join(RESULTS_DIR, 'profiles', startedAt.toISOString().replace(/[:.]/g, '-'))
    : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const ctx = new BenchContext(
    {
      quick: options.quick,
      repeat: options.repeat,
      hubload: hubload.found ? hubload.path : null,
      v01Dir: v01.dir,
      profileDir,
    },
    os.tmpdir(),
  );

  const cores = os.cpus().length;
  process.stdout.write(
    `Mittelö hub benchmarks: node ${process.version}, ${cores} cores, ${options.quick ? 'QUICK run (small sizes: smoke check only)' : 'full run'}, median of ${options.repeat}\n`,
  );
  if (!hubload.found) {
    process.stdout.write(
      `hubload.mjs not found at ${hubload.path} (set MITTELO_HUBLOAD): skipping the hubload scenarios\n`,
    );
  }
  process.stdout.write(
    v01.dir ? `v0.1 baseline: same run, from ${v01.dir}\n` : `v0.1 baseline: ${v01.problem}\n`,
  );

  const selected = SCENARIOS.filter((scenario) => !options.only || options.only.includes(scenario.name));
  const info: RunInfo = {
    startedAt,
    seconds: 0,
    scenarios: selected.map((s) => s.name),
    skipped: [],
    failed: [],
    busy: [],
  };
  for (const scenario of selected) {
    process.stdout.write(`\n== ${scenario.name}: ${scenario.title}\n`);
    if (scenario.needsHubload && !ctx.settings.hubload) {
      const why = `SKIPPED: needs hubload.mjs, not found at ${hubload.path} (set MITTELO_HUBLOAD)`;
      process.stdout.write(`${why}\n`);
      info.skipped.push({ scenario: scenario.name, why });
      continue;
    }
    ctx.beginScenario(scenario.name);
    // Other processes' load lowers every figure: measure it while ours are idle, and say so.
    let background = await machineBusyPercent(1000, cores);
    const quietBy = Date.now() + options.waitQuiet * 1000;
    if (background > BUSY_WARNING_PERCENT && options.waitQuiet > 0) {
      ctx.log(`machine busy (${background.toFixed(0)}% of a core); waiting up to ${options.waitQuiet} s`);
      while (background > BUSY_WARNING_PERCENT && Date.now() < quietBy) {
        background = await machineBusyPercent(1000, cores);
      }
    }
    ctx.keep({ background_load_percent_of_a_core: Math.round(background) });
    if (background > BUSY_WARNING_PERCENT) {
      process.stdout.write(
        `WARNING: other processes keep ${background.toFixed(0)}% of a core busy (of ${cores * 100}%): figures below will be low and noisy\n`,
      );
      info.busy.push({ scenario: scenario.name, percent: Math.round(background) });
    }
    const started = Date.now();
    try {
      await scenario.run(ctx);
    } catch (error) {
      const message = (error as Error).stack ?? String(error);
      process.stdout.write(`ERROR in ${scenario.name}: ${message}\n`);
      info.failed.push({ scenario: scenario.name, error: message });
      killAll();
    }
    ctx.log(`${scenario.name} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  info.seconds = (Date.now() - startedAt.getTime()) / 1000;

  process.stdout.write(
    `\n== Summary (${cores}-core machine, ${options.quick ? 'quick' : 'full'} run, ${info.seconds.toFixed(0)} s)\n\n`,
  );
  process.stdout.write(`${summaryTable(ctx.figures)}\n`);
  const missed = ctx.figures.filter((figure) => verdict(figure) === 'MISS');
  for (const figure of missed) {
    process.stdout.write(
      `MISSED: ${figure.label}: ${formatNumber(figure.value!, figure.digits)} ${figure.unit}, target ${figure.target!.op} ${formatNumber(figure.target!.value, 0)} (${formatNumber(marginPercent(figure)!, 1)}%)\n`,
    );
  }
  for (const busy of info.busy) {
    process.stdout.write(
      `busy machine during ${busy.scenario}: other processes used ${busy.percent}% of a core before it started\n`,
    );
  }
  for (const skip of info.skipped) process.stdout.write(`skipped ${skip.scenario}: ${skip.why}\n`);
  for (const failure of info.failed)
    process.stdout.write(`FAILED ${failure.scenario}: ${failure.error.split('\n')[0]}\n`);
  const resultsFile = join(RESULTS_DIR, 'latest.json');
  writeResults(resultsFile, ctx, info);
  process.stdout.write(`\nraw numbers: ${resultsFile}\n`);
  return info.failed.length > 0 ? 1 : 0;
}

process.exitCode = await main();
