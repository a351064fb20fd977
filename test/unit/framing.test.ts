/**
 * LineReader: newline-delimited framing with a hard size limit. Lines are cut wherever the socket
 * cut its chunks; a line over the limit is reported once and nothing more is buffered or delivered.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineReader } from '../../src/protocol/framing.ts';

interface Recorder {
  reader: LineReader;
  lines: string[];
  tooLarge: number[];
}

function record(maxLineBytes = 1024, onLine?: (line: string, reader: LineReader) => void): Recorder {
  const lines: string[] = [];
  const tooLarge: number[] = [];
  const reader: LineReader = new LineReader({
    maxLineBytes,
    onLine: (line) => {
      lines.push(line);
      onLine?.(line, reader);
    },
    onTooLarge: (bytes) => tooLarge.push(bytes),
  });
  return { reader, lines, tooLarge };
}

const chunk = (text: string) => Buffer.from(text, 'utf8');

describe('LineReader', () => {
  it('delivers each line of a chunk without its newline, in order', () => {
    const { reader, lines } = record();
    reader.push(chunk('{"id":1}\n{"id":2}\n\n{"id":3}\n'));
    assert.deepEqual(lines, ['{"id":1}', '{"id":2}', '', '{"id":3}']);
  });

  it('joins a line cut across chunks, and keeps an unfinished line until its newline arrives', () => {
    const { reader, lines } = record();
    reader.push(chunk('{"method":'));
    reader.push(chunk('"stats"'));
    assert.deepEqual(lines, []);
    reader.push(chunk('}\n{"next"'));
    assert.deepEqual(lines, ['{"method":"stats"}']);
    reader.push(chunk(':true}\n'));
    assert.deepEqual(lines, ['{"method":"stats"}', '{"next":true}']);
  });

  it('decodes a multi-byte character cut between chunks', () => {
    const { reader, lines } = record();
    const bytes = chunk('{"prompt":"Mittelö ✓"}\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of "ö"
    for (const piece of [bytes.subarray(0, cut), bytes.subarray(cut, cut + 3), bytes.subarray(cut + 3)]) {
      reader.push(piece);
    }
    assert.deepEqual(lines, ['{"prompt":"Mittelö ✓"}']);
  });

  it('delivers a line one byte at a time', () => {
    const { reader, lines } = record();
    for (const byte of chunk('ab\ncd\n')) reader.push(Buffer.from([byte]));
    assert.deepEqual(lines, ['ab', 'cd']);
  });

  it('keeps its own copy of an unfinished line (the socket may reuse its buffer)', () => {
    const { reader, lines } = record();
    const reused = chunk('hello');
    reader.push(reused);
    reused.fill(0x78); // 'xxxxx'
    reader.push(chunk(' world\n'));
    assert.deepEqual(lines, ['hello world']);
  });

  it('accepts a line of exactly the limit, counted in bytes without the newline', () => {
    const { reader, lines, tooLarge } = record(8);
    reader.push(chunk('ö234567\n')); // 8 bytes: "ö" is two
    reader.push(chunk('1234'));
    reader.push(chunk('5678\n'));
    assert.deepEqual(lines, ['ö234567', '12345678']);
    assert.deepEqual(tooLarge, []);
  });

  it('reports a line one byte over the limit once, and delivers nothing after it', () => {
    const { reader, lines, tooLarge } = record(8);
    reader.push(chunk('ok\n123456789\nafter\n'));
    assert.deepEqual(lines, ['ok']);
    assert.deepEqual(tooLarge, [9]);
    reader.push(chunk('more\nand more\n'));
    assert.deepEqual(lines, ['ok']);
    assert.deepEqual(tooLarge, [9]);
  });

  it('reports an endless line as soon as it passes the limit, without waiting for a newline', () => {
    const { reader, lines, tooLarge } = record(1000);
    const piece = Buffer.alloc(300, 0x61);
    reader.push(piece);
    reader.push(piece);
    reader.push(piece);
    assert.deepEqual(tooLarge, []);
    reader.push(piece);
    assert.deepEqual(tooLarge, [1200]);
    // Whatever follows, however much, is neither kept nor delivered.
    for (let i = 0; i < 100; i++) reader.push(Buffer.alloc(64 * 1024, 0x62));
    reader.push(chunk('\nshort\n'));
    assert.deepEqual(lines, []);
    assert.deepEqual(tooLarge, [1200]);
  });

  it('reports a line that ends inside the chunk that overflowed it', () => {
    const { reader, tooLarge } = record(10);
    reader.push(chunk('123456'));
    reader.push(chunk('7890ab\n'));
    assert.deepEqual(tooLarge, [12]);
  });

  it('stops delivering as soon as stop() is called, even in the middle of a chunk', () => {
    const { reader, lines, tooLarge } = record(1024, (line, self) => {
      if (line === 'quit') self.stop();
    });
    reader.push(chunk('one\nquit\ntwo\nthree\n'));
    assert.deepEqual(lines, ['one', 'quit']);
    reader.push(chunk('four\n'));
    assert.deepEqual(lines, ['one', 'quit']);
    assert.deepEqual(tooLarge, []);
  });
});
