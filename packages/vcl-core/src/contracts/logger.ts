/**
 * Structured logging, the subset of pino's API the project uses. `obj` carries the fields;
 * `msg` is a short human sentence.
 */
export interface Logger {
  /** Fine-grained protocol events; off by default. */
  debug(obj: object, msg?: string): void;
  /** Normal life-cycle events: started, view installed, fail-over served. */
  info(obj: object, msg?: string): void;
  /** Something wrong that the component survived: bad input, a peer refused. */
  warn(obj: object, msg?: string): void;
  /** Something wrong that loses function: a component stopped, a config rejected. */
  error(obj: object, msg?: string): void;
  /** A logger that adds `bindings` to every line (e.g. `{ member: 'n1' }`). */
  child(bindings: Record<string, unknown>): Logger;
}
