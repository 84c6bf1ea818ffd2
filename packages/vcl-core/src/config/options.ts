import { z } from 'zod';
import { OptionsError } from '../errors';
import { formatPath, fromZodError } from './issues';

export { z };

/**
 * Validates `input` against `schema` and returns the parsed value (defaults filled in). On failure
 * throws `OptionsError` (a `ConfigError`) listing every problem with its dotted path under `source`
 * (`ordering.options.heartbeatMs`), what was expected, and a "did you mean" hint for unknown keys.
 */
export function parseOptions<S extends z.ZodTypeAny>(schema: S, input: unknown, source: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data as z.output<S>;
  throw new OptionsError(
    source,
    fromZodError(result.error, schema, input).map((i) => ({
      path: formatPath(i.path),
      message: i.message,
      hint: i.hint,
    })),
    { cause: result.error },
  );
}

/** A plugin's options: the schema, and a parser that turns stack-file data into typed options. */
export interface OptionsDefinition<T extends z.ZodRawShape> {
  /** The strict object schema (unknown keys are errors). */
  readonly schema: z.ZodObject<T, 'strict'>;
  /**
   * Validates `input` (`undefined` counts as `{}`) and returns the typed options with defaults
   * filled in; throws `OptionsError` naming each bad option under `source`.
   */
  parse(input: unknown, source: string): z.output<z.ZodObject<T, 'strict'>>;
}

/**
 * Declares a plugin's options from a zod shape; unknown keys are rejected with a "did you mean"
 * hint. `defineOptions({ heartbeatMs: z.number().int().positive().default(100) })`.
 */
export function defineOptions<T extends z.ZodRawShape>(shape: T): OptionsDefinition<T> {
  const schema = z.object(shape).strict();
  return {
    schema,
    parse: (input, source) => parseOptions(schema, input === undefined ? {} : input, source),
  };
}
