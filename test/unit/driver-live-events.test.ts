/**
 * The drivers' live output: each CLI's stream lines (formats of BACKEND_FACTS.md §6 and the
 * recorded outputs) turned into text, tool, edit, usage and status events; anything else ignored.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  claudeLiveEvents,
  codexLiveEvents,
  oneLine,
  opencodeLiveEvents,
} from '../../src/backends/drivers/live-events.ts';

const line = (value: unknown) => JSON.stringify(value);

describe('live events of the drivers', () => {
  it('claude: assistant text, tool calls with their arguments cut short, edits, usage, api retries', () => {
    const events = claudeLiveEvents(
      line({
        type: 'assistant',
        message: {
          content: [
            { type: 'text', text: 'Let me look\\nat the tests.' },
            { type: 'tool_use', name: 'Bash', input: { command: `npm test ${'x'.repeat(400)}` } },
            { type: 'tool_use', name: 'Write', input: { file_path: 'src/a.ts', content: 'long' } },
          ],
          usage: { input_tokens: 1200, output_tokens: 30 },
        },
      }),
    );
    assert.deepEqual(
      events.map((event) => event.kind),
      ['text', 'tool', 'tool', 'edit', 'usage'],
    );
    assert.equal(events[0]!.text, 'Let me look\\nat the tests.'.replace(/\s+/g, ' '));
    assert.ok(
      events[1]!.text.startsWith('Bash npm test xxx') && events[1]!.text.length <= 205,
      events[1]!.text,
    );
    assert.equal(events[2]!.text, 'Write src/a.ts');
    assert.equal(events[3]!.text, 'src/a.ts');
    assert.equal(events[4]!.text, '1,200 tokens in, 30 out');
    assert.deepEqual(
      claudeLiveEvents(
        line({ type: 'system', subtype: 'api_retry', attempt: 2, max_retries: 10, error_status: 529 }),
      ),
      [{ kind: 'status', text: 'API retry 2 of 10 (529)' }],
    );
    assert.deepEqual(claudeLiveEvents(line({ type: 'system', subtype: 'init', session_id: 's' })), []);
  });

  it('codex: commands when they start, messages, file changes and errors when complete, turn usage', () => {
    assert.deepEqual(
      codexLiveEvents(
        line({ type: 'item.started', item: { type: 'command_execution', command: 'bash -lc ls' } }),
      ),
      [{ kind: 'tool', text: 'shell bash -lc ls' }],
    );
    assert.deepEqual(
      codexLiveEvents(line({ type: 'item.completed', item: { type: 'command_execution', command: 'ls' } })),
      [],
      'a command shows once, when it starts',
    );
    assert.deepEqual(
      codexLiveEvents(line({ type: 'item.completed', item: { type: 'agent_message', text: 'Done.' } })),
      [{ kind: 'text', text: 'Done.' }],
    );
    assert.deepEqual(
      codexLiveEvents(
        line({
          type: 'item.completed',
          item: {
            type: 'file_change',
            changes: [
              { path: 'a.txt', kind: 'update' },
              { path: 'b.txt', kind: 'add' },
            ],
          },
        }),
      ),
      [
        { kind: 'edit', text: 'update a.txt' },
        { kind: 'edit', text: 'add b.txt' },
      ],
    );
    assert.deepEqual(
      codexLiveEvents(line({ type: 'turn.completed', usage: { input_tokens: 5, output_tokens: 2 } })),
      [{ kind: 'usage', text: '5 tokens in, 2 out' }],
    );
    assert.deepEqual(codexLiveEvents(line({ type: 'error', message: 'Reconnecting... 2/5' })), [
      { kind: 'status', text: 'Reconnecting... 2/5' },
    ]);
  });

  it('opencode: text, tool and step parts, and its error events', () => {
    assert.deepEqual(opencodeLiveEvents(line({ type: 'text', part: { text: 'hello' } })), [
      { kind: 'text', text: 'hello' },
    ]);
    assert.deepEqual(
      opencodeLiveEvents(
        line({ type: 'tool_use', part: { tool: 'edit', state: { input: { filePath: 'x.ts' } } } }),
      ),
      [
        { kind: 'tool', text: `edit ${JSON.stringify({ filePath: 'x.ts' })}` },
        { kind: 'edit', text: 'x.ts' },
      ],
    );
    assert.deepEqual(
      opencodeLiveEvents(line({ type: 'error', error: { name: 'APIError', data: { message: 'no route' } } })),
      [{ kind: 'status', text: 'APIError: no route' }],
    );
  });

  it('ignores what is not an event: plain text, broken JSON, arrays', () => {
    for (const parse of [claudeLiveEvents, codexLiveEvents, opencodeLiveEvents]) {
      for (const text of ['', 'Reading additional input from stdin...', '{"type":', '[1,2]', 'null']) {
        assert.deepEqual(parse(text), [], text);
      }
    }
  });

  it('every recorded stdout of the stream-json and JSONL CLIs parses without throwing', () => {
    const root = join(import.meta.dirname, '..', 'fixtures', 'drivers');
    const parsers = { claude_code: claudeLiveEvents, codex: codexLiveEvents, opencode: opencodeLiveEvents };
    let lines = 0;
    for (const [driver, parse] of Object.entries(parsers)) {
      for (const file of readdirSync(join(root, driver))) {
        if (!file.endsWith('.json')) continue;
        const recorded = JSON.parse(readFileSync(join(root, driver, file), 'utf8')) as { stdout?: string };
        for (const text of (recorded.stdout ?? '').split('\n')) {
          lines += 1;
          for (const event of parse(text)) assert.ok(event.text.length <= 500, `${driver}/${file}`);
        }
      }
    }
    assert.ok(lines > 20, `read ${lines} recorded lines`);
  });

  it('oneLine flattens whitespace and cuts with an ellipsis', () => {
    assert.equal(oneLine(' a \n b\t c ', 10), 'a b c');
    assert.equal(oneLine('abcdefghij', 5), 'abcd…');
  });
});
