import type { DependencyContainer } from 'tsyringe';

/** The slots a plugin can fill. */
export type PluginKind = 'ordering' | 'substrate' | 'aaa';

/**
 * A configured plugin, ready to be installed in one deployment's child container. Plugin packages
 * export a lower-case factory that returns one (`sequencer({ heartbeatMs: 50 })`).
 */
export interface Plugin {
  /** The slot it fills. */
  readonly kind: PluginKind;
  /** Its registered name (`sequencer`). */
  readonly name: string;
  /**
   * Registers the plugin's component under its slot token (e.g. `ORDERING`) and its options under
   * its own token, in `container` (a deployment's child container). Never resolves anything.
   */
  register(container: DependencyContainer): void;
}

/** What a plugin package adds to the plugin registry: how to build its `Plugin` from stack-file options. */
export interface PluginRegistration {
  /** The slot it fills. */
  readonly kind: PluginKind;
  /** The short name a stack file uses (`sequencer`, `tcp`, `hmac`). */
  readonly name: string;
  /** The npm package that provides it (`@vcl/gcs-sequencer`). */
  readonly packageName: string;
  /** One line for listings and error messages. */
  readonly description: string;
  /**
   * Validates `options` (plain data from the stack file; `undefined` when none were given) and
   * returns the plugin. Throws `ConfigError` naming each bad option.
   */
  create(options: unknown): Plugin;
}
