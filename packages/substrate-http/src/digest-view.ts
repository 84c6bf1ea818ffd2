import type { HttpCompareOptions } from './options';

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * The bytes of a normalized HTTP response that divergence detection compares: the status line, the
 * header fields not in `ignoreHeaders` (names lower-cased, in order), and the body, with
 * `ignoreJsonFields` removed when it is a JSON body (`content-type: application/json` or `+json`,
 * not chunked). A response that cannot be parsed is compared whole.
 */
export function httpDigestView(response: Uint8Array, compare: Required<HttpCompareOptions>): Uint8Array {
  const bytes = Buffer.from(response.buffer, response.byteOffset, response.byteLength);
  const end = bytes.indexOf(HEAD_END);
  if (end < 0) return response;
  const ignored = new Set(compare.ignoreHeaders.map((h) => h.toLowerCase()));
  const [status = '', ...fields] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  let json = false;
  let chunked = false;
  const kept = [status];
  for (const f of fields) {
    const colon = f.indexOf(':');
    const name = (colon < 0 ? f : f.slice(0, colon)).trim().toLowerCase();
    const value = colon < 0 ? '' : f.slice(colon + 1).trim();
    if (name === 'content-type') json = /^application\/(?:[\w.+-]*\+)?json\b/i.test(value);
    if (name === 'transfer-encoding') chunked = /chunked/i.test(value);
    // Content-Length follows the body: with JSON fields left out it would differ for that reason alone.
    if (ignored.has(name) || (name === 'content-length' && compare.ignoreJsonFields.length > 0)) continue;
    kept.push(`${name}: ${value}`);
  }
  let body: Buffer = bytes.subarray(end + HEAD_END.length);
  if (json && !chunked && compare.ignoreJsonFields.length > 0) body = withoutJsonFields(body, compare.ignoreJsonFields);
  return Buffer.concat([Buffer.from(`${kept.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

function withoutJsonFields(body: Buffer, paths: readonly string[]): Buffer {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return body;
  }
  for (const p of paths) drop(value, p.split('.'));
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function drop(value: unknown, path: readonly string[]): void {
  if (Array.isArray(value)) {
    for (const v of value) drop(v, path);
    return;
  }
  if (!value || typeof value !== 'object' || path.length === 0) return;
  const [head, ...rest] = path as [string, ...string[]];
  const o = value as Record<string, unknown>;
  if (rest.length === 0) delete o[head];
  else drop(o[head], rest);
}
