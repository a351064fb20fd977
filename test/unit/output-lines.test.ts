/** The live-output line splitter: chunks cut mid-line and mid-character, huge lines, no last newline. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineSplitter, MAX_LIVE_LINE_CHARS } from '../../src/backends/output-lines.ts';

function split(chunks: Buffer[]): string[] {
  const lines: string[] = [];
  const splitter = lineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.write(chunk);
  splitter.end();
  return lines;
}

describe('lineSplitter', () => {
  it('joins lines cut across chunks, keeps a last line without newline, drops \\r', () => {
    assert.deepEqual(split([Buffer.from('one\ntw'), Buffer.from('o\r\nthr'), Buffer.from('ee')]), [
      'one',
      'two',
      'three',
    ]);
    assert.deepEqual(split([Buffer.from('\n\nx\n')]), ['', '', 'x']);
    assert.deepEqual(split([]), []);
  });

  it('decodes a UTF-8 character split between chunks', () => {
    const bytes = Buffer.from('Mittelö läuft\n', 'utf8');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of ö
    assert.deepEqual(split([bytes.subarray(0, cut), bytes.subarray(cut)]), ['Mittelö läuft']);
  });

  it('cuts a huge line at the cap, drops the rest of it, and goes on with the next', () => {
    const huge = 'x'.repeat(MAX_LIVE_LINE_CHARS + 5000);
    const lines = split([Buffer.from(huge.slice(0, 40_000)), Buffer.from(`${huge.slice(40_000)}\nnext\n`)]);
    assert.deepEqual(
      lines.map((line) => line.length),
      [MAX_LIVE_LINE_CHARS, 4],
    );
    assert.equal(lines[1], 'next');
  });

  it('a listener that throws does not stop the splitting', () => {
    const seen: string[] = [];
    const splitter = lineSplitter((line) => {
      seen.push(line);
      throw new Error('listener broke');
    });
    splitter.write(Buffer.from('a\nb\n'));
    splitter.end();
    assert.deepEqual(seen, ['a', 'b']);
  });
});
