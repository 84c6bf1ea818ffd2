import { defineOptions, token, z } from '@vcl/core';

/**
 * Options of the HTTP substrate. Every field is optional; the defaults suit a metadata-style
 * service whose requests, headers included, fit one ordered message of the default ordering
 * plugins (1 MiB).
 */
export interface HttpOptions {
  /** Largest request or response head (start line and header fields; also the trailer section), in bytes. Default 16384 (Node's `maxHeaderSize`). */
  readonly maxHeaderBytes?: number;
  /** Largest request body, in bytes; larger ones get 413 before their body is read. Default 512 KiB. */
  readonly maxBodyBytes?: number;
  /** Largest response body, in bytes; a larger service response becomes a 502. Default 8 MiB. */
  readonly maxResponseBodyBytes?: number;
  /**
   * How long a client conversation ended after an error reply (400/413) keeps reading and discarding
   * before it is closed, so the client reads the reply instead of a connection reset, in ms. Default 2000.
   */
  readonly lingerMs?: number;
  /** Whether the internal-API server adds a `Date` header; replicas would answer with different dates. Default false. */
  readonly sendDate?: boolean;
  /**
   * Request methods that change no service state: the substrate's planner marks them `read` (see
   * docs/execution.md). Default `['GET', 'HEAD', 'OPTIONS']`; `[]` makes every request a write.
   */
  readonly readMethods?: readonly string[];
  /**
   * What divergence detection leaves out when it compares the replicas' responses (the client
   * still gets every byte). Default `{ ignoreHeaders: ['date'], ignoreJsonFields: [] }`.
   */
  readonly compare?: HttpCompareOptions;
}

/** `compare`: the parts of a response that may differ between replicas without being divergence. */
export interface HttpCompareOptions {
  /** Header names (any case) not compared, e.g. `etag`, `last-modified`, `server`. Default `['date']`. */
  readonly ignoreHeaders?: readonly string[];
  /** For JSON bodies: fields not compared, as dotted paths from the top (`meta.generatedAt`). Default none. */
  readonly ignoreJsonFields?: readonly string[];
}

/** `HttpOptions` with every default filled in. */
export type ResolvedHttpOptions = Required<Omit<HttpOptions, 'compare'>> & {
  readonly compare: Required<HttpCompareOptions>;
};

const int = (min: number) => z.number().int().min(min);

/** The options schema (strict: unknown keys are errors, with a "did you mean" hint). */
export const httpOptions = defineOptions({
  maxHeaderBytes: int(256)
    .max(1024 * 1024)
    .default(16384),
  maxBodyBytes: int(0)
    .max(2 ** 31)
    .default(512 * 1024),
  maxResponseBodyBytes: int(0)
    .max(2 ** 31)
    .default(8 * 1024 * 1024),
  lingerMs: int(0).max(60_000).default(2000),
  sendDate: z.boolean().default(false),
  readMethods: z
    .array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected an HTTP method token, e.g. GET'))
    .default(['GET', 'HEAD', 'OPTIONS']),
  compare: z
    .object({
      ignoreHeaders: z.array(z.string().min(1)).default(['date']),
      ignoreJsonFields: z.array(z.string().min(1)).default([]),
    })
    .strict()
    .default({}),
});

/** The defaults, as documented on `HttpOptions`. */
export const HTTP_DEFAULTS: ResolvedHttpOptions = Object.freeze(httpOptions.parse(undefined, 'http options'));

/** The token the plugin registers its resolved options under (in the deployment's container). */
export const HTTP_OPTIONS = token<ResolvedHttpOptions>('@vcl/substrate-http:Options');

/** Validates plain option data (stack file or code) and fills in the defaults; throws `OptionsError` naming each bad field. */
export function resolveHttpOptions(options: unknown, source = 'http options'): ResolvedHttpOptions {
  return Object.freeze(httpOptions.parse(options, source));
}
