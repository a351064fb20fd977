/**
 * docs/CLI.md and `mittelo --help` in step. The commander program is the one main.ts runs
 * (`buildProgram()`: building it only reads package.json), so every command, subcommand, option
 * and `.env(...)` below is exactly what `--help` shows. The rule the doc keeps:
 *
 * - Every command has an entry: a `## \`mittelo NAME …\`` heading (its section runs to the next
 *   `##`), or a table row whose first cell starts with `` `mittelo NAME `` (its section is that
 *   row plus the text of the enclosing `##` section outside the other commands' rows; that text
 *   applies to every row). `mittelo` itself is the introduction, before the first `##`.
 * - Every long option of a command is written as `--flag` in its section (``` blocks, which are
 *   sample output, do not count); or in the table of "Where the hub is" when the command takes
 *   `--host` ("every client command takes"); or in the section of a command whose flags it takes
 *   all of, when its section says so ("every agent flag", "every `agent` flag").
 * - An option read from the environment (`.env(X)`) has X next to the flag: in the same table
 *   row, or in the prose right after it (before the next flag). The table of "Environment
 *   variables" has a row for X naming the command (or "every command") and the flag.
 * - Conversely, every `--flag` in a command's section (outside ``` blocks) exists on that
 *   command. A flag of another command is written as a link to its section
 *   ([`--max-line-bytes`](#mittelo-hub)) or in a code span `mittelo hub --max-line-bytes`; such
 *   spans, and `mittelo NAME --flag` lines in code blocks, are checked against NAME wherever they
 *   are. Every other `--flag` (other sections, sample output) exists on some command. An
 *   environment column agrees with `.env`, and so does the Environment variables table.
 * - A command's heading names its arguments as `--help` does: `## \`mittelo wait ID...\`` for
 *   `wait <ids...>` (one word per argument, `...` on a variadic one, `[WORD]` for an optional one).
 *
 * What is compared is commander's model of the CLI, and a test checks that it is exactly what
 * each `--help` prints (options and subcommands), so "in --help" and "in the model" are one.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Command, Option } from 'commander';
import { builtInBackendNames } from '../../src/backends/registry.ts';
import { buildProgram } from '../../src/cli/main.ts';
import { REPO_ROOT } from '../helpers/hub-process.ts';

const DOC = 'docs/CLI.md';
/** The section whose flag table every command taking --host shares. */
const SHARED_SECTION = 'Where the hub is';
const ENV_SECTION = 'Environment variables';
/** commander gives every command --help; it is not in `command.options`. */
const UNIVERSAL = new Set(['--help']);
const FLAG = /(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*/g;

// ---------------------------------------------------------------------------------------------
// The CLI as commander builds it.

interface Cli {
  /** '' for `mittelo` itself, else 'hub', 'agent', or 'parent child' for a subcommand. */
  path: string;
  title: string;
  command: Command;
  options: Option[];
}

function collectCommands(program: Command): Cli[] {
  const found: Cli[] = [];
  const visit = (command: Command, path: string) => {
    found.push({
      path,
      title: path ? `mittelo ${path}` : 'mittelo',
      command,
      options: command.options.filter((option) => !option.hidden && option.long),
    });
    const visible = new Set(command.createHelp().visibleCommands(command));
    for (const sub of command.commands) {
      if (visible.has(sub)) visit(sub, path ? `${path} ${sub.name()}` : sub.name());
    }
  };
  visit(program, '');
  return found;
}

const clis = collectCommands(buildProgram());
const root = clis[0]!;
const byPath = new Map(clis.map((cli) => [cli.path, cli]));
const hasFlag = (cli: Cli, flag: string) =>
  UNIVERSAL.has(flag) || cli.options.some((option) => option.long === flag);
const optionOf = (cli: Cli, flag: string) => cli.options.find((option) => option.long === flag);
const clientCommands = clis.filter((cli) => hasFlag(cli, '--host') && cli.path !== 'hub');
const helpLine = (cli: Cli, option: Option) =>
  `\`${option.flags}\` — ${option.description}${option.envVar ? ` (env ${option.envVar})` : ''} ` +
  `(from \`${cli.title} --help\`)`;
const commandNames = clis
  .slice(1)
  .map((cli) => cli.path)
  .join(', ');
const optionList = (cli: Cli) => cli.options.map((option) => option.long).join(', ') || 'none';

/**
 * The command a code span or code line is about: `mittelo hub --port 0` is hub, `dashboard --once`
 * is dashboard. `unknown` is set for `mittelo word` where word looks like a command and is none.
 */
function ownerOf(code: string): { cli?: Cli; unknown?: string } {
  const words = code.trim().split(/\s+/);
  if (words[0] === 'mittelo') {
    let found: Cli = root;
    let path = '';
    for (const word of words.slice(1)) {
      const next = path ? `${path} ${word}` : word;
      const cli = byPath.get(next);
      if (!cli) break;
      found = cli;
      path = next;
    }
    const after = words[1 + (path ? path.split(' ').length : 0)];
    if (!path && after !== undefined && !after.startsWith('-')) {
      return /^[a-z][a-z0-9-]*$/.test(after) ? { unknown: after } : {};
    }
    return { cli: found };
  }
  const cli = words[0] ? byPath.get(words[0]) : undefined;
  return cli && words[1]?.startsWith('--') ? { cli } : {};
}

// ---------------------------------------------------------------------------------------------
// The doc: lines, sections, tables, entries and every `--flag` in it.

interface Line {
  text: string;
  fenced: boolean;
}

let inFence = false;
const lines: Line[] = readFileSync(join(REPO_ROOT, DOC), 'utf8')
  .split('\n')
  .map((text) => {
    const fence = /^\s*(```|~~~)/.test(text);
    const fenced = inFence || fence;
    if (fence) inFence = !inFence;
    return { text, fenced };
  });
const where = (line: number) => `${DOC}:${line + 1}`;
const isTableLine = (line: number) => !lines[line]!.fenced && lines[line]!.text.trimStart().startsWith('|');

/** GitHub's anchor for a heading. */
const slug = (title: string) =>
  title
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

interface Section {
  title: string;
  start: number;
  end: number;
}

const headingLines = lines.flatMap((line, i) => (!line.fenced && /^## /.test(line.text) ? [i] : []));
const sections: Section[] = headingLines.map((start, k) => ({
  title: lines[start]!.text.slice(3).trim(),
  start,
  end: headingLines[k + 1] ?? lines.length,
}));
const anchors = new Map<string, number>();
lines.forEach((line, i) => {
  const heading = !line.fenced && /^#{1,6} (.*)$/.exec(line.text);
  if (heading && !anchors.has(slug(heading[1]!))) anchors.set(slug(heading[1]!), i);
});
const sectionAt = (line: number) => sections.find((s) => s.start <= line && line < s.end);
const sectionNamed = (prefix: string) => sections.find((s) => s.title.startsWith(prefix));

interface Table {
  header: string[];
  rows: { line: number; cells: string[] }[];
}

const cellsOf = (text: string) =>
  text
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());

function tablesIn(section: Section): Table[] {
  const tables: Table[] = [];
  for (let i = section.start; i < section.end; i++) {
    if (!isTableLine(i)) continue;
    const table: Table = { header: cellsOf(lines[i]!.text), rows: [] };
    i += 2; // the header and the |---| line
    for (; i < section.end && isTableLine(i); i++)
      table.rows.push({ line: i, cells: cellsOf(lines[i]!.text) });
    tables.push(table);
  }
  return tables;
}
const flagTables = (section: Section) => tablesIn(section).filter((table) => table.header[0] === 'flag');
const flagsIn = (text: string) => [...text.matchAll(FLAG)].map((match) => match[0]);
const codeSpans = (text: string) =>
  [...text.matchAll(/(`+)(.+?)(?<!`)\1(?!`)/g)].map((match) => ({
    content: match[2]!,
    start: match.index!,
    end: match.index! + match[0].length,
  }));

/** Where a command is documented, and the lines that make up its section. */
interface Entry {
  cli: Cli;
  label: string;
  lines: Set<number>;
}

const entries = new Map<string, Entry>();
const staleEntries: string[] = [];
const rowLines = new Set<number>();

entries.set('', {
  cli: root,
  label: 'the introduction (before the first ##)',
  lines: new Set(Array.from({ length: headingLines[0] ?? lines.length }, (_, i) => i)),
});
for (const section of sections) {
  const heading = /^`(mittelo[^`]*)`/.exec(section.title);
  if (heading) {
    const { cli, unknown } = ownerOf(heading[1]!);
    if (!cli || cli === root) {
      staleEntries.push(
        `${where(section.start)}: remove the section "## ${section.title}" (or rename it): ` +
          `\`mittelo ${unknown ?? ''}\` is not a command (commands: ${commandNames})`,
      );
      continue;
    }
    const range = Array.from({ length: section.end - section.start }, (_, k) => section.start + k);
    entries.set(cli.path, {
      cli,
      label: `## ${section.title} (line ${section.start + 1})`,
      lines: new Set(range),
    });
    continue;
  }
  const rows: { cli: Cli; line: number }[] = [];
  for (const table of tablesIn(section)) {
    for (const row of table.rows) {
      const first = /^`(mittelo [^`]*)`/.exec(row.cells[0] ?? '');
      if (!first) continue;
      const { cli, unknown } = ownerOf(first[1]!);
      if (!cli || cli === root) {
        staleEntries.push(
          `${where(row.line)}: remove the row of \`mittelo ${unknown ?? ''}\` from ## ${section.title}: ` +
            'it is not a command',
        );
        continue;
      }
      rows.push({ cli, line: row.line });
      rowLines.add(row.line);
    }
  }
  for (const { cli, line } of rows) {
    const shared = [];
    for (let i = section.start; i < section.end; i++) if (!rows.some((r) => r.line === i)) shared.push(i);
    entries.set(cli.path, {
      cli,
      label: `the \`${cli.title}\` row of ## ${section.title} (line ${line + 1}; the text around that table counts for every row)`,
      lines: new Set([...shared, line]),
    });
  }
}

/** A `--flag` in the doc and the command it is written about: a Cli, 'anywhere', or none (the section's). */
interface Mention {
  flag: string;
  line: number;
  col: number;
  owner: Cli | 'anywhere' | undefined;
}

const mentions: Mention[] = [];
const unknownCommands: string[] = [];
const brokenLinks: string[] = [];

lines.forEach((line, i) => {
  const owned: { start: number; end: number; owner: Cli | 'anywhere' }[] = [];
  const noteUnknown = (unknown: string | undefined) => {
    // A heading about no command is reported with its section (staleEntries).
    if (unknown && !line.text.startsWith('#')) {
      unknownCommands.push(
        `${where(i)}: \`mittelo ${unknown}\` is not a command: fix or remove it (commands: ${commandNames})`,
      );
    }
  };
  if (line.fenced) {
    for (const match of line.text.matchAll(/(?<![\w-])mittelo\s+[^|#;)&`]*/g)) {
      const { cli, unknown } = ownerOf(match[0]);
      noteUnknown(unknown);
      if (cli) owned.push({ start: match.index!, end: match.index! + match[0].length, owner: cli });
    }
  } else {
    for (const span of codeSpans(line.text)) {
      const { cli, unknown } = ownerOf(span.content);
      noteUnknown(unknown);
      if (cli) owned.push({ ...span, owner: cli });
    }
    for (const link of line.text.matchAll(/\[((?:[^[\]`]|`[^`]*`)*)\]\(#([^)\s]+)\)/g)) {
      const target = anchors.get(link[2]!);
      if (target === undefined) {
        brokenLinks.push(
          `${where(i)}: the link to #${link[2]} points at no heading of ${DOC}: fix the anchor`,
        );
        continue;
      }
      const entry = [...entries.values()].find(
        (e) =>
          e.cli !== root &&
          e.label.startsWith('## ') &&
          e.lines.has(target) &&
          sectionAt(target)?.start === target,
      );
      owned.push({
        start: link.index!,
        end: link.index! + link[1]!.length + 2,
        owner: entry?.cli ?? 'anywhere',
      });
    }
  }
  for (const match of line.text.matchAll(FLAG)) {
    const col = match.index!;
    const inside = owned.filter((range) => range.start <= col && col < range.end);
    // A code span naming its command wins over a link around it.
    const owner = inside.find((range) => range.owner !== 'anywhere')?.owner ?? inside[0]?.owner;
    mentions.push({ flag: match[0], line: i, col, owner });
  }
});

/** The prose right after a mention, up to the next flag (at most 120 characters, across wrapped lines). */
function textAfter(mention: Mention): string {
  let text = lines[mention.line]!.text.slice(mention.col + mention.flag.length);
  for (let i = mention.line + 1; i < lines.length && text.length < 120; i++) {
    const next = lines[i]!;
    if (next.fenced || next.text.trim() === '' || next.text.startsWith('#') || isTableLine(i)) break;
    text += ` ${next.text}`;
  }
  const nextFlag = text.search(FLAG);
  return text.slice(0, nextFlag === -1 ? 120 : Math.min(nextFlag, 120));
}

/** An env variable named as a whole word (`MITTELO_DB` is not in `MITTELO_DBX`). */
const namesEnv = (text: string, env: string) => new RegExp(`(?<![A-Z0-9_])${env}(?![A-Z0-9_])`).test(text);

const sharedSection = sectionNamed(SHARED_SECTION);
const sharedTables = sharedSection ? flagTables(sharedSection) : [];
const sharedRows = sharedTables.flatMap((table) => table.rows);
const envSection = sectionNamed(ENV_SECTION);
const envRows = envSection
  ? tablesIn(envSection)
      .filter((table) => table.header[0] === 'variable')
      .flatMap((table) => table.rows)
  : [];

/** Mentions that document `cli`'s `flag`: in its section, the shared table, or a section it takes every flag of. */
function documenting(entry: Entry, flag: string): Mention[] {
  const own = (e: Entry) =>
    mentions.filter(
      (m) =>
        m.flag === flag &&
        e.lines.has(m.line) &&
        !lines[m.line]!.fenced &&
        (m.owner === undefined || m.owner === e.cli),
    );
  const found = own(entry);
  if (clientCommands.includes(entry.cli)) {
    const rowsWithFlag = new Set(
      sharedRows.filter((row) => flagsIn(row.cells[0] ?? '').includes(flag)).map((r) => r.line),
    );
    found.push(...mentions.filter((m) => m.flag === flag && rowsWithFlag.has(m.line)));
  }
  const prose = [...entry.lines]
    .filter((i) => !lines[i]!.fenced)
    .map((i) => lines[i]!.text)
    .join(' ');
  for (const match of prose.matchAll(/\bevery\s+`?([a-z][a-z0-9-]*)`?\s+flags?\b/gi)) {
    const other = entries.get(match[1]!);
    if (other && other !== entry && hasFlag(other.cli, flag)) found.push(...documenting(other, flag));
  }
  return found;
}

/** `--help` text by section ('Options', 'Commands', …): the term column of each entry. */
function helpSections(help: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of help.split('\n')) {
    const title = /^([A-Z][A-Za-z ]*):$/.exec(line);
    if (title) {
      current = [];
      found.set(title[1]!, current);
    } else if (current && /^ {2}\S/.test(line)) {
      current.push(line.trim().split(/ {2,}/)[0]!);
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------

const report = (problems: string[]) =>
  assert.equal(problems.length, 0, `\n${problems.map((problem) => `  - ${problem}`).join('\n')}\n`);

describe(`${DOC} and \`mittelo --help\` in step`, () => {
  for (const cli of clis) {
    it(`\`${cli.title}\`: documented, with every flag and env variable, and no flag it does not have`, () => {
      const entry = entries.get(cli.path);
      if (!entry) {
        report([
          `${DOC}: \`${cli.title}\` (${cli.command.description()}) has no entry: add a section ` +
            `"## \`${cli.title}\`" listing its flags (${optionList(cli)}), or a row whose first cell starts ` +
            `with \`${cli.title}\` in a command table such as the one in ## Verification runs`,
        ]);
        return;
      }
      const problems: string[] = [];

      for (const option of cli.options) {
        const flag = option.long!;
        const found = documenting(entry, flag);
        if (found.length === 0)
          problems.push(`${DOC} ${entry.label}: add \`${flag}\`: ${helpLine(cli, option)}`);
        const env = option.envVar;
        if (!env) continue;
        const nextTo = found.some((m) =>
          isTableLine(m.line) ? namesEnv(lines[m.line]!.text, env) : namesEnv(textAfter(m), env),
        );
        if (found.length > 0 && !nextTo) {
          problems.push(
            `${where(found[0]!.line)} (${entry.label}): \`${flag}\` reads ${env}: write \`${env}\` next to it — ` +
              `in its table row's environment column, or as "(env \`${env}\`)" right after the flag`,
          );
        }
        const row = envRows.find((r) => codeSpans(r.cells[0] ?? '').some((span) => span.content === env));
        if (!row) {
          problems.push(
            `${DOC} ## ${ENV_SECTION}: add the row "| \`${env}\` | \`${cli.path}\` | \`${flag}\` |" ` +
              `(\`${cli.title} ${flag}\` reads it)`,
          );
          continue;
        }
        const usedBy = row.cells[1] ?? '';
        if (!/every command/i.test(usedBy) && !codeSpans(usedBy).some((span) => span.content === cli.path)) {
          problems.push(
            `${where(row.line)} (## ${ENV_SECTION}): add \`${cli.path}\` to the "used by" cell of \`${env}\` ` +
              `(\`${cli.title} ${flag}\` reads it)`,
          );
        }
        if (!flagsIn(row.cells[2] ?? '').includes(flag)) {
          problems.push(
            `${where(row.line)} (## ${ENV_SECTION}): name \`${flag}\` in the last cell of \`${env}\``,
          );
        }
      }

      for (const m of mentions) {
        if (!entry.lines.has(m.line) || lines[m.line]!.fenced || m.owner !== undefined) continue;
        if (hasFlag(cli, m.flag)) continue;
        const shared = !rowLines.has(m.line) && entry.label.startsWith('the ');
        problems.push(
          `${where(m.line)} (${entry.label}): remove \`${m.flag}\`: \`${cli.title}\` has no such option` +
            `${shared ? ' (this line is shared by every row of the table)' : ''}; if it is another command's, ` +
            `link it to that command's section, [\`${m.flag}\`](#mittelo-…). Its options: ${optionList(cli)}`,
        );
      }

      for (const section of sections.filter(
        (s) => entry.lines.has(s.start) && entry.label.startsWith('## '),
      )) {
        for (const table of flagTables(section)) {
          const column = table.header.indexOf('environment');
          if (column === -1) continue;
          for (const row of table.rows) {
            const listed = codeSpans(row.cells[column] ?? '').map((span) => span.content);
            for (const flag of flagsIn(row.cells[0] ?? '')) {
              const actual = optionOf(cli, flag)?.envVar;
              if (actual === undefined && listed.length > 0) {
                problems.push(
                  `${where(row.line)}: empty the environment cell of \`${flag}\`: \`${cli.title} ${flag}\` reads no ` +
                    `variable (not ${listed.join(', ')})`,
                );
              } else if (actual !== undefined && listed.length > 0 && !listed.includes(actual)) {
                problems.push(
                  `${where(row.line)}: the environment cell of \`${flag}\` should be \`${actual}\`, not ${listed.join(', ')}`,
                );
              }
            }
          }
        }
      }
      report(problems);
    });
  }

  it('`--help` of every command prints exactly the options and subcommands compared here', () => {
    const problems: string[] = [];
    for (const cli of clis) {
      const printed = helpSections(cli.command.helpInformation());
      const flags = new Set((printed.get('Options') ?? []).flatMap((term) => flagsIn(term)));
      const expected = new Set([...cli.options.map((option) => option.long!), ...UNIVERSAL]);
      const missing = [...expected].filter((flag) => !flags.has(flag));
      const extra = [...flags].filter((flag) => !expected.has(flag));
      if (missing.length || extra.length) {
        problems.push(
          `\`${cli.title} --help\` prints options ${[...flags].join(', ')}; this test reads ` +
            `${[...expected].join(', ')} from commander: fix collectCommands`,
        );
      }
      const commands = (printed.get('Commands') ?? []).map((term) => term.split(/\s+/)[0]!);
      const subs = clis
        .filter((other) => other.path.startsWith(cli.path ? `${cli.path} ` : '') && other !== cli)
        .filter((other) => !other.path.slice(cli.path.length).trim().includes(' '))
        .map((other) => other.command.name());
      const notPrinted = subs.filter((name) => !commands.includes(name));
      const notRead = commands.filter((name) => name !== 'help' && !subs.includes(name));
      if (notPrinted.length || notRead.length) {
        problems.push(
          `\`${cli.title} --help\` lists commands ${commands.join(', ') || 'none'}; this test reads ` +
            `${subs.join(', ') || 'none'}: fix collectCommands`,
        );
      }
    }
    report(problems);
  });

  it("every command's heading names its arguments as `--help` does", () => {
    const problems: string[] = [];
    for (const section of sections) {
      const heading = /^`(mittelo[^`]*)`/.exec(section.title);
      const cli = heading ? ownerOf(heading[1]!).cli : undefined;
      if (!heading || !cli || cli === root) continue;
      const words = heading[1]!
        .trim()
        .split(/\s+/)
        .slice(1 + cli.path.split(' ').length);
      const written = words.filter((word) => !word.startsWith('-') && !word.startsWith('[-'));
      const args = cli.command.registeredArguments;
      const wanted = args.map((arg) => {
        const word = arg
          .name()
          .replace(/[A-Z]/g, (c) => `_${c}`)
          .toUpperCase();
        const shown = `${word}${arg.variadic ? '...' : ''}`;
        return arg.required ? shown : `[${shown}]`;
      });
      const fits =
        written.length === args.length &&
        written.every((word, k) => {
          const arg = args[k]!;
          const bare = word.replace(/^\[|\]$/g, '');
          return bare.endsWith('...') === arg.variadic && word.startsWith('[') === !arg.required;
        });
      if (!fits) {
        problems.push(
          `${where(section.start)}: the heading "## ${section.title}" names the arguments ` +
            `${written.join(' ') || '(none)'}, but \`${cli.title} --help\` takes ${cli.command.usage()}: ` +
            `write "## \`${cli.title}${wanted.length ? ` ${wanted.join(' ')}` : ''}\`" (words of your choosing, one per argument)`,
        );
      }
    }
    report(problems);
  });

  it('`mittelo agent --backend` names every built-in backend (here and in docs/AGENTS.md)', () => {
    const problems: string[] = [];
    const agentLines = [...(entries.get('agent')?.lines ?? [])].sort((a, b) => a - b);
    const inCli = agentLines
      .map((i) => lines[i]!.text)
      .join(' ')
      .replace(/\s+/g, ' ');
    const backendRow =
      readFileSync(join(REPO_ROOT, 'docs', 'AGENTS.md'), 'utf8')
        .split('\n')
        .find((line) => line.startsWith('| `--backend <name>`')) ?? '';
    for (const name of builtInBackendNames()) {
      if (!inCli.includes(`\`${name}\``))
        problems.push(`${DOC} ## \`mittelo agent\`: name \`${name}\` among --backend's values`);
      if (!backendRow.includes(`\`${name}\``))
        problems.push(
          `docs/AGENTS.md: name \`${name}\` in the \`--backend <name>\` row of \`mittelo agent\`'s flags`,
        );
    }
    report(problems);
  });

  it('every section or table row about a command is about one that exists', () => {
    report([...staleEntries, ...unknownCommands]);
  });

  it('every in-page link points at a heading', () => {
    report(brokenLinks);
  });

  it('every `mittelo NAME --flag` written anywhere (prose, tables, code blocks) names an option of NAME', () => {
    const problems: string[] = [];
    for (const m of mentions) {
      if (m.owner === undefined || m.owner === 'anywhere' || hasFlag(m.owner, m.flag)) continue;
      problems.push(
        `${where(m.line)}: remove or rename \`${m.flag}\` in \`${m.owner.title} … ${m.flag}\`: ` +
          `\`${m.owner.title}\` has no such option (its options: ${optionList(m.owner)})`,
      );
    }
    report(problems);
  });

  it('every other `--flag` (other sections, sample output) exists on some command', () => {
    const problems: string[] = [];
    const inEntry = (line: number) => [...entries.values()].some((e) => e.lines.has(line));
    for (const m of mentions) {
      const free =
        m.owner === 'anywhere' || (m.owner === undefined && (lines[m.line]!.fenced || !inEntry(m.line)));
      if (!free || clis.some((cli) => hasFlag(cli, m.flag))) continue;
      problems.push(`${where(m.line)}: remove \`${m.flag}\`: no mittelo command has this option`);
    }
    report(problems);
  });

  it(`the flags in "${SHARED_SECTION}" exist on every command that takes --host`, () => {
    const problems: string[] = [];
    if (!sharedSection) problems.push(`${DOC}: the section "## ${SHARED_SECTION}…" is missing`);
    for (const row of sharedRows) {
      for (const flag of flagsIn(row.cells[0] ?? '')) {
        const column = sharedTables[0]?.header.indexOf('environment') ?? -1;
        const env = codeSpans(row.cells[column] ?? '').map((span) => span.content);
        for (const cli of clientCommands) {
          const option = optionOf(cli, flag);
          if (!option) {
            problems.push(
              `${where(row.line)}: \`${cli.title}\` has no \`${flag}\`, but this table says every client command takes it: ` +
                'remove the row, or add the option back',
            );
          } else if ((option.envVar ?? '') !== (env[0] ?? '')) {
            problems.push(
              `${where(row.line)}: the environment cell of \`${flag}\` says ${env[0] ?? 'nothing'}, ` +
                `but \`${cli.title} ${flag}\` reads ${option.envVar ?? 'no variable'}`,
            );
          }
        }
      }
    }
    report(problems);
  });

  it(`the "${ENV_SECTION}" table names only commands whose flag reads that variable`, () => {
    const problems: string[] = [];
    if (!envSection) problems.push(`${DOC}: the section "## ${ENV_SECTION}" is missing`);
    for (const row of envRows) {
      const env = codeSpans(row.cells[0] ?? '')
        .map((span) => span.content)
        .find((content) => /^MITTELO_[A-Z0-9_]+$/.test(content));
      const flags = flagsIn(row.cells[2] ?? '');
      if (!env || flags.length === 0) continue;
      const reads = (cli: Cli, flag: string) => optionOf(cli, flag)?.envVar === env;
      for (const flag of flags) {
        if (/every command/i.test(row.cells[1] ?? '')) {
          if (!clis.some((cli) => reads(cli, flag))) {
            problems.push(`${where(row.line)}: no command's \`${flag}\` reads ${env}: remove or fix the row`);
          }
          continue;
        }
        for (const span of codeSpans(row.cells[1] ?? '')) {
          const cli = byPath.get(span.content);
          if (!cli) {
            problems.push(
              `${where(row.line)}: remove \`${span.content}\` from the row of ${env}: it is not a command`,
            );
          } else if (!reads(cli, flag)) {
            problems.push(
              `${where(row.line)}: remove \`${cli.path}\` from the row of ${env}: \`${cli.title} ${flag}\` ` +
                `${optionOf(cli, flag) ? `reads ${optionOf(cli, flag)?.envVar ?? 'no variable'}` : 'does not exist'}`,
            );
          }
        }
      }
    }
    report(problems);
  });
});
