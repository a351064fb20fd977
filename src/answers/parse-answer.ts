/**
 * Turning an answer's text into the JSON value a task's output_schema asks for. Models wrap JSON
 * in prose or fences, so the text is read in three ways, first that works: the whole text is
 * JSON; else the last ```json fence; else the last balanced {...} or [...] in the text.
 */

import { boundMessage, compileAnswerSchema } from './answer-schema.ts';

export type ParsedAnswer = { ok: true; parsed: unknown } | { ok: false; error: string };

/** The parsed, valid value of `text`, or why there is none ("not JSON" or the schema's messages). */
export function parseAnswer(text: string, schema: Record<string, unknown>): ParsedAnswer {
  const compiled = compileAnswerSchema(schema);
  if (!compiled.ok) return { ok: false, error: compiled.error };
  const found = findJson(text);
  if (!found.ok) return { ok: false, error: boundMessage(`the answer is not JSON: ${found.why}`) };
  const problem = compiled.validate(found.value);
  if (problem !== null) {
    return { ok: false, error: boundMessage(`the answer does not match output_schema: ${problem}`) };
  }
  return { ok: true, parsed: found.value };
}

/** Spans tried, last first: the answer is near the end; prose in brackets before it is not. */
const MAX_SPAN_TRIES = 100;

type Found = { ok: true; value: unknown } | { ok: false; why: string };

function findJson(text: string): Found {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, why: 'it is empty' };
  let whyWhole: string;
  try {
    return { ok: true, value: JSON.parse(trimmed) };
  } catch (err) {
    whyWhole = err instanceof Error ? err.message : String(err);
  }
  const fenced = lastFence(text);
  if (fenced) return fenced;
  const span = lastBalanced(text);
  if (span) return span;
  return { ok: false, why: `${whyWhole}, and it holds no \`\`\`json fence or JSON object or array` };
}

/** The last ```json fence's content; a fence that does not parse is reported, not skipped. */
function lastFence(text: string): Found | undefined {
  const fences = [...text.matchAll(/```json[^\S\n]*\n([\s\S]*?)```/gi)];
  const last = fences.at(-1);
  if (!last) return undefined;
  try {
    return { ok: true, value: JSON.parse(last[1] ?? '') };
  } catch (err) {
    return { ok: false, why: `its \`\`\`json fence: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/**
 * The last {...} or [...] that parses, found in one pass: brackets are matched with a stack and
 * quotes are honoured inside brackets (a raw newline ends a would-be string, as JSON strings
 * cannot hold one, so a stray quote in prose does not swallow the rest of the text). Spans are
 * tried from the last one closed: an outer span closes after the ones nested in it.
 */
function lastBalanced(text: string): Found | undefined {
  const spans: Array<[number, number]> = [];
  const stack: Array<{ char: string; at: number }> = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      else if (c === '\n') {
        inString = false;
        stack.length = 0;
      }
      continue;
    }
    if (c === '{' || c === '[') stack.push({ char: c, at: i });
    else if (c === '"' && stack.length > 0) inString = true;
    else if (c === '}' || c === ']') {
      const open = stack.pop();
      if (!open) continue;
      if ((open.char === '{') !== (c === '}')) {
        stack.length = 0;
        continue;
      }
      spans.push([open.at, i + 1]);
    }
  }
  // A bound on tries: text full of bracketed prose must not cost a parse per pair of brackets.
  for (let k = spans.length - 1; k >= Math.max(0, spans.length - MAX_SPAN_TRIES); k--) {
    const [from, to] = spans[k] as [number, number];
    try {
      return { ok: true, value: JSON.parse(text.slice(from, to)) };
    } catch {
      // Prose in brackets, or JSON-like text that is not JSON: try the span before.
    }
  }
  return undefined;
}
