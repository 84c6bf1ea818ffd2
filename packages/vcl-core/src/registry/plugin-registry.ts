import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { PluginKind, PluginRegistration } from '../contracts/plugin';
import { DuplicatePluginError, PluginLoadError, UnknownPluginError } from '../errors';
import { BUILTIN_PLUGINS } from './builtins';

/** Loads a module by specifier (a package name or an absolute path) and returns its exports. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/** Options of a `PluginRegistry`. */
export interface PluginRegistryOptions {
  /** Short name -> package table per kind; default `BUILTIN_PLUGINS`. */
  readonly builtins?: Readonly<Record<PluginKind, Readonly<Record<string, string>>>>;
  /** How packages are loaded; default `importModule` (require, falling back to `import()` for ESM). */
  readonly importer?: ModuleImporter;
}

const KINDS: readonly PluginKind[] = ['ordering', 'substrate', 'aaa'];

function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null ? (e as { code?: string }).code : undefined;
}

// Errors may come from another realm (Jest's module registry), so no `instanceof Error` here.
function messageOf(e: unknown): string {
  const message = typeof e === 'object' && e !== null ? (e as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : String(e);
}

/** True when `e` says that `specifier` itself (not something it imports) could not be found. */
function isNotFound(e: unknown, specifier: string): boolean {
  const code = errorCode(e);
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  const message = messageOf(e);
  return message.includes(`'${specifier}'`) || message.includes(`"${specifier}"`);
}

// A variable specifier on purpose: core must never import a plugin statically.
const esmImport = (specifier: string): Promise<unknown> => import(specifier);

/**
 * The default importer: `require` from this module (so workspace packages resolve, and Jest's
 * module mapping applies in tests), then from the working directory (third-party packages installed
 * next to the stack), falling back to `import()` for ES-module-only packages.
 */
export async function importModule(specifier: string): Promise<unknown> {
  const attempts: Array<() => unknown> = [
    // The plain `require` (not createRequire) so that under Jest the module mapping applies.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    () => require(specifier),
    () => createRequire(path.join(process.cwd(), 'noop.js'))(specifier),
  ];
  let lastError: unknown;
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch (e) {
      if (errorCode(e) === 'ERR_REQUIRE_ESM') return esmImport(specifier);
      if (!isNotFound(e, specifier)) throw e;
      lastError = e;
    }
  }
  throw lastError;
}

/** True for a third-party package name or a filesystem path, false for a short plugin name. */
export function isPackageSpecifier(nameOrPackage: string): boolean {
  return (
    nameOrPackage.includes('/') ||
    nameOrPackage.includes(path.sep) ||
    nameOrPackage.startsWith('@') ||
    nameOrPackage.startsWith('.')
  );
}

function isRegistration(value: unknown): value is PluginRegistration {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Partial<PluginRegistration>;
  return (
    KINDS.includes(r.kind as PluginKind) &&
    typeof r.name === 'string' &&
    r.name.length > 0 &&
    typeof r.packageName === 'string' &&
    typeof r.create === 'function'
  );
}

/**
 * Every plugin known to a process (or to one test): registrations by kind and short name, and the
 * loader that fills it from plugin packages. A stack names plugins by short name (`sequencer`) or
 * by package (`@acme/vcl-paxos`, or a path); either way the package is loaded on demand.
 */
export class PluginRegistry {
  private readonly byKind = new Map<PluginKind, Map<string, PluginRegistration>>(KINDS.map((k) => [k, new Map()]));
  private readonly builtins: Readonly<Record<PluginKind, Readonly<Record<string, string>>>>;
  private readonly importer: ModuleImporter;

  constructor(options: PluginRegistryOptions = {}) {
    this.builtins = options.builtins ?? BUILTIN_PLUGINS;
    this.importer = options.importer ?? importModule;
  }

  /**
   * Adds a registration. Adding the same kind and name again from the same package replaces it
   * (a package loaded twice); from a different package it is a `DuplicatePluginError` naming both.
   */
  add(registration: PluginRegistration): void {
    if (!isRegistration(registration))
      throw new PluginLoadError(
        `not a plugin registration (expected { kind: ${KINDS.join('|')}, name, packageName, description, create }): ${JSON.stringify(registration)}`,
      );
    const slot = this.byKind.get(registration.kind)!;
    const existing = slot.get(registration.name);
    if (existing && existing.packageName !== registration.packageName)
      throw new DuplicatePluginError(
        `${registration.kind} plugin "${registration.name}" is registered by both ${existing.packageName} and ${registration.packageName}`,
      );
    slot.set(registration.name, registration);
  }

  /** The registration of `kind` named `name`; `UnknownPluginError` listing the known names if none. */
  get(kind: PluginKind, name: string): PluginRegistration {
    const found = this.byKind.get(kind)?.get(name);
    if (found) return found;
    throw new UnknownPluginError(
      `unknown ${kind} plugin "${name}"; known ${kind} plugins: ${this.knownNames(kind).join(', ') || '(none)'}`,
    );
  }

  /** Whether a registration of `kind` named `name` is present. */
  has(kind: PluginKind, name: string): boolean {
    return this.byKind.get(kind)?.has(name) ?? false;
  }

  /** Every registration (of `kind`, if given), sorted by kind then name. */
  list(kind?: PluginKind): PluginRegistration[] {
    const kinds = kind ? [kind] : KINDS;
    return kinds.flatMap((k) => [...this.byKind.get(k)!.values()].sort((a, b) => a.name.localeCompare(b.name)));
  }

  /** Registered names of `kind` plus the built-in short names not loaded yet, sorted. */
  knownNames(kind: PluginKind): string[] {
    return [...new Set([...this.byKind.get(kind)!.keys(), ...Object.keys(this.builtins[kind])])].sort();
  }

  /**
   * Returns the registration of `kind` for `nameOrPackage`, loading its package first if needed.
   * A short name is looked up among the registrations, then in the built-in table
   * (`sequencer` -> `@vcl/gcs-sequencer`); a package name (`@scope/pkg`, `pkg/sub`) or a path is
   * loaded as is and must provide exactly one plugin of `kind`. The package must export
   * `registration` or `registrations`, which are all added.
   */
  async load(kind: PluginKind, nameOrPackage: string): Promise<PluginRegistration> {
    if (!KINDS.includes(kind))
      throw new UnknownPluginError(`unknown plugin kind "${kind}"; kinds: ${KINDS.join(', ')}`);
    if (!isPackageSpecifier(nameOrPackage)) {
      if (this.has(kind, nameOrPackage)) return this.get(kind, nameOrPackage);
      const pkg = this.builtins[kind][nameOrPackage];
      if (!pkg) return this.get(kind, nameOrPackage);
      const added = await this.loadPackage(pkg);
      if (!this.has(kind, nameOrPackage))
        throw new PluginLoadError(
          `package ${pkg} was loaded for ${kind} plugin "${nameOrPackage}" but does not provide it; it provides: ${describe(added)}`,
        );
      return this.get(kind, nameOrPackage);
    }
    const added = await this.loadPackage(nameOrPackage);
    const ofKind = added.filter((r) => r.kind === kind);
    if (ofKind.length !== 1)
      throw new PluginLoadError(
        `package ${nameOrPackage} must provide exactly one ${kind} plugin to be named by package, ` +
          `it provides ${ofKind.length}: ${describe(added)}` +
          (ofKind.length > 1 ? '; load the package and name the plugin by its short name' : ''),
      );
    return ofKind[0]!;
  }

  /** Loads a plugin package (name or path) and adds every registration it exports; returns them. */
  async loadPackage(packageNameOrPath: string): Promise<PluginRegistration[]> {
    const specifier =
      packageNameOrPath.startsWith('.') || path.isAbsolute(packageNameOrPath)
        ? path.resolve(packageNameOrPath)
        : packageNameOrPath;
    let exported: unknown;
    try {
      exported = await this.importer(specifier);
    } catch (e) {
      throw new PluginLoadError(
        isNotFound(e, specifier)
          ? `plugin package ${packageNameOrPath} not found (is it installed? a path must point to a package directory or file)`
          : `plugin package ${packageNameOrPath} failed to load: ${messageOf(e)}`,
        { cause: e },
      );
    }
    const registrations = extractRegistrations(exported);
    if (!registrations)
      throw new PluginLoadError(
        `plugin package ${packageNameOrPath} exports neither "registration" (a PluginRegistration) nor "registrations" (an array of them)`,
      );
    const valid: PluginRegistration[] = [];
    registrations.forEach((r, i) => {
      if (!isRegistration(r))
        throw new PluginLoadError(
          `plugin package ${packageNameOrPath}: registration ${i} is not a PluginRegistration ` +
            `(expected { kind: ${KINDS.join('|')}, name, packageName, description, create })`,
        );
      valid.push(r);
    });
    valid.forEach((r) => this.add(r));
    return valid;
  }
}

function extractRegistrations(exported: unknown): unknown[] | undefined {
  const candidates = [exported, (exported as { default?: unknown } | null)?.default];
  for (const mod of candidates) {
    if (typeof mod !== 'object' || mod === null) continue;
    const m = mod as { registration?: unknown; registrations?: unknown };
    if (Array.isArray(m.registrations)) return m.registrations;
    if (m.registration !== undefined) return [m.registration];
  }
  return undefined;
}

function describe(registrations: readonly PluginRegistration[]): string {
  return registrations.length ? registrations.map((r) => `${r.kind} "${r.name}"`).join(', ') : 'nothing';
}

/** The process-wide registry that plugin packages fill when loaded. */
export const pluginRegistry = new PluginRegistry();
