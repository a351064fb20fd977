/**
 * Reading a JSON request body with a size limit. An oversized body is still read to its end (and
 * thrown away, so memory stays bounded) before the 413 goes out: answering while the client is
 * still sending makes HTTP clients see a reset connection instead of the answer, or reuse a
 * connection the server is about to drop. Only a body far over the limit gets the 413 at once,
 * with `Connection: close`.
 */
import type { Context } from 'hono';
import { MitteloError } from '../../errors.ts';

/** Past this multiple of the limit we stop reading and close the connection instead. */
const DISCARD_FACTOR = 8;

function tooLarge(maxBytes: number): MitteloError {
  return new MitteloError(
    'too_large',
    `request body over ${maxBytes} bytes, the REST API's limit (as a TCP request line); send large batches in several requests`,
  );
}

async function readBodyText(c: Context, maxBytes: number): Promise<string> {
  const discardLimit = maxBytes * DISCARD_FACTOR;
  if (Number(c.req.header('content-length')) > discardLimit) {
    c.header('Connection', 'close');
    throw tooLarge(maxBytes);
  }
  const body = c.req.raw.body;
  if (!body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > discardLimit) {
      c.header('Connection', 'close');
      throw tooLarge(maxBytes);
    }
    if (size <= maxBytes) chunks.push(chunk);
  }
  if (size > maxBytes) throw tooLarge(maxBytes);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The body as a JSON object; an empty body is `{}`. That the request says `application/json`
 * was checked before any route ran (request-guard.ts).
 */
export async function readJsonObject(
  c: Context,
  options: { maxBytes: number; example?: Record<string, unknown> | undefined },
): Promise<Record<string, unknown>> {
  const text = await readBodyText(c, options.maxBytes);
  if (text.trim() === '') return {};
  const example = options.example ? `, for example ${JSON.stringify(options.example)}` : '';
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new MitteloError(
      'bad_request',
      `request body is not valid JSON (${(error as Error).message}); send a JSON object${example}`,
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new MitteloError('bad_request', `request body must be a JSON object${example}`);
  }
  return body as Record<string, unknown>;
}
