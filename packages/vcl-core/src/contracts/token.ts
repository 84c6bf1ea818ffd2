import type { DependencyContainer, InjectionToken } from 'tsyringe';

declare const tokenType: unique symbol;

/**
 * A typed injection token: a global symbol (`Symbol.for('@vcl/core:Name')`) that remembers the type
 * it stands for, so `resolve(container, TOKEN)` infers that type.
 */
export type Token<T> = symbol & { readonly [tokenType]?: T };

/** Creates the token for an interface; `name` is prefixed with `@vcl/core:` unless it has a scope. */
export function token<T>(name: string): Token<T> {
  return Symbol.for(name.startsWith('@') ? name : `@vcl/core:${name}`) as Token<T>;
}

/** The description of a token, for error messages (`@vcl/core:OrderingProtocol`). */
export function tokenName(t: Token<unknown>): string {
  return t.description ?? String(t);
}

/** Resolves `t` from `container` with its type inferred. Only assembly code calls this. */
export function resolve<T>(container: DependencyContainer, t: Token<T>): T {
  return container.resolve<T>(t as InjectionToken<T>);
}

/** Resolves every registration of `t` (for multi-choice slots). */
export function resolveAll<T>(container: DependencyContainer, t: Token<T>): T[] {
  return container.isRegistered(t as InjectionToken<T>, true) ? container.resolveAll<T>(t as InjectionToken<T>) : [];
}
