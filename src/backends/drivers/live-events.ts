/**
 * What a CLI's stream says as it runs, as live output events (OutputEvent): assistant text, tool
 * calls (name and arguments, cut short), file edits, usage so far, retries. One function per stream
 * format, fed one stdout line at a time (driver-backend.ts splits them); a line that is not JSON or
 * not an event we know gives nothing. Formats: ../shared/spec/BACKEND_FACTS.md §6 and the recorded
 * outputs under test/fixtures/drivers/. Live output is a view for people, never the answer.
 */
import type { OutputEvent } from '../types.ts';

/** Assistant text is cut here (one line of it); tool arguments shorter still. */
const TEXT_CHARS = 500;
const ARGUMENT_CHARS = 200;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null;

/** One line, at most `chars` characters: newlines become spaces. */
export function oneLine(text: string, chars: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > chars ? `${flat.slice(0, chars - 1)}…` : flat;
}

function parseLine(line: string): Json | null {
  if (!line.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(line);
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

/** A tool's arguments as people read them: the command or path when there is one, else the JSON. */
function argumentsText(input: unknown): string {
  if (!isObject(input)) return typeof input === 'string' ? oneLine(input, ARGUMENT_CHARS) : '';
  for (const key of ['command', 'file_path', 'path', 'pattern', 'url', 'query']) {
    const value = input[key];
    if (typeof value === 'string') return oneLine(value, ARGUMENT_CHARS);
    if (Array.isArray(value)) return oneLine(value.join(' '), ARGUMENT_CHARS);
  }
  return oneLine(JSON.stringify(input), ARGUMENT_CHARS);
}

/** Tools that change files: their calls are also `edit` events naming the file. */
const EDIT_TOOLS = new Set(['Edit', 'MultiEdit', 'Write', 'NotebookEdit', 'edit', 'write', 'patch']);

function toolEvents(name: string, input: unknown): OutputEvent[] {
  const events: OutputEvent[] = [{ kind: 'tool', text: `${name} ${argumentsText(input)}`.trim() }];
  const path = isObject(input) ? (input.file_path ?? input.path ?? input.filePath) : undefined;
  if (EDIT_TOOLS.has(name) && typeof path === 'string') events.push({ kind: 'edit', text: path });
  return events;
}

function usageText(usage: unknown): string | null {
  if (!isObject(usage)) return null;
  const input = Number(usage.input_tokens ?? usage.input ?? 0);
  const output = Number(usage.output_tokens ?? usage.output ?? 0);
  if (!input && !output) return null;
  return `${input.toLocaleString('en-US')} tokens in, ${output.toLocaleString('en-US')} out`;
}

/** Claude Code `--output-format stream-json --verbose`. */
export function claudeLiveEvents(line: string): OutputEvent[] {
  const event = parseLine(line);
  if (!event) return [];
  if (event.type === 'system' && event.subtype === 'api_retry') {
    return [
      {
        kind: 'status',
        text: `API retry ${event.attempt ?? '?'} of ${event.max_retries ?? '?'} (${event.error_status ?? event.error ?? 'no answer'})`,
      },
    ];
  }
  if (event.type === 'assistant' && isObject(event.message)) {
    const events: OutputEvent[] = [];
    const content = Array.isArray(event.message.content) ? event.message.content : [];
    for (const part of content) {
      if (!isObject(part)) continue;
      if (part.type === 'text' && typeof part.text === 'string' && part.text.trim()) {
        events.push({ kind: 'text', text: oneLine(part.text, TEXT_CHARS) });
      } else if (part.type === 'tool_use' && typeof part.name === 'string') {
        events.push(...toolEvents(part.name, part.input));
      }
    }
    const usage = usageText(event.message.usage);
    if (usage) events.push({ kind: 'usage', text: usage });
    return events;
  }
  if (event.type === 'result') {
    const usage = usageText(event.usage);
    return usage ? [{ kind: 'usage', text: usage }] : [];
  }
  return [];
}

/** Codex `exec --json`: thread, turn and item events. */
export function codexLiveEvents(line: string): OutputEvent[] {
  const event = parseLine(line);
  if (!event) return [];
  if (event.type === 'error' && typeof event.message === 'string') {
    return [{ kind: 'status', text: oneLine(event.message, TEXT_CHARS) }];
  }
  if (event.type === 'turn.completed') {
    const usage = usageText(event.usage);
    return usage ? [{ kind: 'usage', text: usage }] : [];
  }
  const item = event.item;
  if (!isObject(item)) return [];
  // A command shows when it starts; a message, a file change or an error when it is complete.
  if (item.type === 'command_execution' && event.type === 'item.started') {
    return [{ kind: 'tool', text: `shell ${argumentsText(item.command)}`.trim() }];
  }
  if (event.type !== 'item.completed') return [];
  if (item.type === 'agent_message' && typeof item.text === 'string') {
    return [{ kind: 'text', text: oneLine(item.text, TEXT_CHARS) }];
  }
  if (item.type === 'file_change' && Array.isArray(item.changes)) {
    return item.changes
      .filter((change): change is Json => isObject(change) && typeof change.path === 'string')
      .map((change) => ({ kind: 'edit' as const, text: `${change.kind ?? 'change'} ${change.path}` }));
  }
  if (item.type === 'error' && typeof item.message === 'string') {
    return [{ kind: 'status', text: oneLine(item.message, TEXT_CHARS) }];
  }
  return [];
}

/** opencode `run --format json`: text, tool and step events with a `part`, and errors. */
export function opencodeLiveEvents(line: string): OutputEvent[] {
  const event = parseLine(line);
  if (!event) return [];
  if (event.type === 'error' && isObject(event.error)) {
    const data = isObject(event.error.data) ? event.error.data : {};
    return [
      { kind: 'status', text: oneLine(`${event.error.name ?? 'error'}: ${data.message ?? ''}`, TEXT_CHARS) },
    ];
  }
  const part = event.part;
  if (!isObject(part)) return [];
  if (event.type === 'text' && typeof part.text === 'string' && part.text.trim()) {
    return [{ kind: 'text', text: oneLine(part.text, TEXT_CHARS) }];
  }
  if (event.type === 'tool_use' && typeof part.tool === 'string') {
    const state = isObject(part.state) ? part.state : {};
    return toolEvents(part.tool, state.input);
  }
  if (event.type === 'step_finish') {
    const usage = usageText(part.tokens);
    return usage ? [{ kind: 'usage', text: usage }] : [];
  }
  return [];
}
