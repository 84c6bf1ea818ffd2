import { MalformedFrameError } from '../errors';
import type { BodyReader } from '../link/body';

const MAX_ID = 256;

/** Reads an id field (session, member, principal, host): a string of 1 to 256 characters. */
export function readId(r: BodyReader, field: string): string {
  const value = r.string(field);
  if (value.length === 0 || value.length > MAX_ID)
    throw new MalformedFrameError(`${field} must be 1-${MAX_ID} characters, got ${value.length}`);
  return value;
}
