/**
 * The layer rules of docs/ARCHITECTURE.md, held by reading every import in src/: each rule names
 * imports that must never exist. A rule broken here is a design change: change the document, and
 * this test with it, on purpose.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'src');

interface ImportEdge {
  /** Importing file, relative to the repository (src/...). */
  from: string;
  /** Imported file relative to the repository for relative imports, else the package name. */
  to: string;
  line: number;
}

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) found.push(path);
  }
  return found;
}

/** Static imports, re-exports and dynamic imports with a literal specifier. */
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

function importsOf(file: string): ImportEdge[] {
  const text = readFileSync(file, 'utf8');
  const edges: ImportEdge[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = (match[1] ?? match[2])!;
    const line = text.slice(0, match.index).split('\n').length + (match[0].startsWith('\n') ? 1 : 0);
    const to = specifier.startsWith('.')
      ? relative(ROOT, resolve(dirname(file), specifier)).replaceAll('\\', '/')
      : specifier;
    edges.push({ from: relative(ROOT, file).replaceAll('\\', '/'), to, line });
  }
  return edges;
}

const EDGES = sourceFiles(SRC).flatMap(importsOf);

interface Rule {
  name: string;
  /** Files the rule is about. */
  files: RegExp;
  /** Imports those files must never have. */
  forbidden: RegExp;
  /** Imports allowed although `forbidden` matches them (with the reason in the rule's name). */
  except?: RegExp;
}

const LAYERS =
  'agent|answers|backends|cli|client|doctor|hub|notify|protocol|run|smoke|spend|store|web|workspace';
const below = (...allowed: string[]) => new RegExp(`^src/(?!(?:${allowed.join('|')})/)(?:${LAYERS})/`);

const RULES: Rule[] = [
  {
    name: 'the wire model and the method schemas depend on nothing but errors.ts and zod',
    files: /^src\/protocol\//,
    forbidden: new RegExp(`^src/(?:${LAYERS})/|^src/(?!errors\\.ts)`),
    except: /^src\/protocol\//,
  },
  {
    name: 'the store knows no network and no hub: only the wire model, queue policy and errors',
    files: /^src\/store\//,
    forbidden: below('store', 'protocol'),
  },
  {
    name: 'the store answers with data, not sockets or HTTP (its database driver aside)',
    files: /^src\/store\//,
    forbidden: /^node:(?:net|http|https|tls|dgram)$/,
  },
  {
    name: 'the hub knows no client, agent, backend or CLI',
    files: /^src\/hub\//,
    forbidden: below('hub', 'store', 'protocol', 'web', 'answers'),
  },
  {
    name: 'the client reaches the hub only through the protocol: no hub or store code',
    files: /^src\/client\//,
    forbidden: below('client', 'protocol'),
  },
  {
    name: 'a backend knows no hub, client, store or agent',
    files: /^src\/backends\//,
    forbidden: below('backends'),
  },
  {
    name: 'an agent reaches the queue only through the client',
    files: /^src\/agent\//,
    forbidden: below('agent', 'client', 'backends', 'protocol', 'spend', 'answers', 'workspace'),
  },
  {
    name: 'git worktrees (workspace) know the wire model and errors.ts only: no hub, client, agent or backend',
    files: /^src\/workspace\//,
    forbidden: below('workspace', 'protocol'),
  },
  {
    name: 'structured answers (schemas, parsing, validation) read the wire model only, so hub, CLI and agent agree',
    files: /^src\/answers\//,
    forbidden: below('answers', 'protocol'),
  },
  {
    name: 'the price table and cost rules read usage and prices only: the wire model, nothing else',
    files: /^src\/spend\//,
    forbidden: below('spend', 'protocol'),
  },
  {
    name: 'notifications take events and deliver them: no hub, store, client or agent code',
    files: /^src\/notify\//,
    forbidden: below('notify', 'protocol', 'backends'),
  },
  {
    name: 'run and smoke use the hub through startHub and the client, never the store',
    files: /^src\/(?:run|smoke)\//,
    forbidden: /^src\/store\//,
  },
  {
    name: 'doctor only asks the store layer whether a database could be opened',
    files: /^src\/doctor\//,
    forbidden: /^src\/store\//,
    except: /^src\/store\/open-store\.ts$/,
  },
  {
    name: "the CLI uses no store code, except to open one for copying a queue between stores, or to count a run's database (mittelo runs)",
    files: /^src\/cli\//,
    forbidden: /^src\/store\//,
    except: /^src\/store\/(?:open-store|copy-queue|inspect-database)\.ts$/,
  },
  {
    name: 'only process-runner.ts spawns processes among the backends',
    files: /^src\/backends\/(?!process-runner\.ts$)/,
    forbidden: /^node:child_process$/,
  },
];

describe('layer rules (docs/ARCHITECTURE.md)', () => {
  it('reads the imports of every source file', () => {
    assert.ok(EDGES.length > 300, `only ${EDGES.length} imports found: the scanner is broken`);
    assert.ok(EDGES.some((edge) => edge.from === 'src/hub/hub.ts' && edge.to === 'src/protocol/schemas.ts'));
  });

  for (const rule of RULES) {
    it(rule.name, () => {
      const broken = EDGES.filter(
        (edge) => rule.files.test(edge.from) && rule.forbidden.test(edge.to) && !rule.except?.test(edge.to),
      ).map((edge) => `${edge.from}:${edge.line} imports ${edge.to}`);
      assert.deepEqual(broken, [], `imports that break "${rule.name}":\n${broken.join('\n')}`);
    });
  }

  it('each rule catches what it forbids (checked on a made-up import)', () => {
    const sample: Record<string, ImportEdge> = {
      protocol: { from: 'src/protocol/model.ts', to: 'src/store/types.ts', line: 1 },
      store: { from: 'src/store/types.ts', to: 'src/hub/hub.ts', line: 1 },
      client: { from: 'src/client/hub-client.ts', to: 'src/hub/events.ts', line: 1 },
      agent: { from: 'src/agent/agent.ts', to: 'src/store/types.ts', line: 1 },
      answers: { from: 'src/answers/answer-schema.ts', to: 'src/hub/hub.ts', line: 1 },
      workspace: { from: 'src/workspace/git.ts', to: 'src/agent/agent.ts', line: 1 },
    };
    const catches = (edge: ImportEdge) =>
      RULES.some(
        (rule) => rule.files.test(edge.from) && rule.forbidden.test(edge.to) && !rule.except?.test(edge.to),
      );
    for (const [layer, edge] of Object.entries(sample))
      assert.ok(catches(edge), `no rule catches ${layer}: ${edge.to}`);
    assert.equal(catches({ from: 'src/hub/hub.ts', to: 'src/protocol/model.ts', line: 1 }), false);
  });
});
