/**
 * The only source of randomness for protocol code (timer jitter, tie breaks), so a simulator run is
 * reproducible from its seed.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
}
