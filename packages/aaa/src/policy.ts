import * as fs from 'node:fs';
import { ConfigError, parseYaml, z, type AccessRequest, type Authorizer, type Principal } from '@vcl/core';

/** One rule of a policy: what `principal` may do. Everything not allowed by some rule is denied. */
export interface PolicyRule {
  /** The principal (client principal or member id) the rule is for; `*` for every principal. */
  readonly principal: string;
  /**
   * HTTP requests allowed, as `METHOD /path/glob` (`GET /items/*`, `* /health`). In paths, `*`
   * matches within one segment and `**` across segments. Default none.
   */
  readonly http?: readonly string[];
  /** Command lines allowed, by prefix: `ls` allows any `ls ...`, `git status` allows `git status ...`. Default none. */
  readonly cli?: readonly string[];
  /** Whether raw TCP sessions may connect (and send). Default false. */
  readonly tcp?: boolean;
}

/** An `AccessDecision` with the reason for an allow too (audit wants both). */
export type PolicyDecision =
  { readonly allow: true; readonly reason: string } | { readonly allow: false; readonly reason: string };

const ruleSchema = z
  .object({
    principal: z.string().min(1),
    http: z.array(z.string().regex(/^\S+\s+\/\S*$/, 'expected "METHOD /path" (e.g. "GET /items/*")')).optional(),
    cli: z.array(z.string().min(1)).optional(),
    tcp: z.boolean().optional(),
  })
  .strict();

/** Validates policy rules (plain data from a stack or policy file); `source` names it in errors. */
export function parsePolicy(rules: unknown, source = 'aaa.policy'): PolicyRule[] {
  const parsed = z.array(ruleSchema).safeParse(rules);
  if (!parsed.success)
    throw new ConfigError(
      source,
      parsed.error.issues.map((i) => ({
        path: i.path.length
          ? i.path
              .map((p) => (typeof p === 'number' ? `[${p}]` : p))
              .join('.')
              .replace(/\.\[/g, '[')
          : '(root)',
        message: i.message,
      })),
    );
  return parsed.data;
}

/** Reads policy rules from a YAML or JSON file (a list of rules, or `{ rules: [...] }`). */
export function readPolicyFile(file: string): PolicyRule[] {
  let data: unknown;
  try {
    data = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, [{ path: '(root)', message: `cannot read policy: ${(e as Error).message}` }], {
      cause: e,
    });
  }
  const rules = data && typeof data === 'object' && !Array.isArray(data) ? (data as { rules?: unknown }).rules : data;
  return parsePolicy(rules, file);
}

/** Compiles a path glob: `*` within one segment, `**` across segments, everything else literal. */
function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** An `Authorizer` whose decisions are synchronous and always carry a reason. */
export interface PolicyAuthorizer extends Authorizer {
  /** Allows or denies `request` for `principal`, saying why. */
  authorize(principal: Principal, request: AccessRequest): PolicyDecision;
}

interface CompiledRule {
  readonly principal: string;
  readonly http: { method: string; path: RegExp; text: string }[];
  readonly cli: { argv: string[]; text: string }[];
  readonly tcp: boolean;
}

/**
 * Rule-based authorization. With rules, default deny: a request is allowed only when a rule for
 * its principal (or `*`) allows it. A `connect` is allowed when the principal has any rule for
 * that substrate. With no rules at all (`undefined`), everything is allowed.
 * Every decision carries its reason (the matching rule, or why none matched).
 */
export function policyAuthorizer(rules: readonly PolicyRule[] | undefined): PolicyAuthorizer {
  const compiled: CompiledRule[] | undefined = rules?.map((r) => ({
    principal: r.principal,
    http: (r.http ?? []).map((text) => {
      const [method, path] = text.trim().split(/\s+/, 2) as [string, string];
      return { method: method.toUpperCase(), path: globToRegExp(path), text };
    }),
    cli: (r.cli ?? []).map((text) => ({ argv: text.trim().split(/\s+/), text })),
    tcp: r.tcp ?? false,
  }));
  return {
    authorize(principal, request): PolicyDecision {
      if (!compiled) return { allow: true, reason: 'no policy configured' };
      const mine = compiled.filter((r) => r.principal === principal.id || r.principal === '*');
      const who = `${principal.kind} ${principal.id}`;
      if (!mine.length) return { allow: false, reason: `no policy rule for ${who}` };
      const substrate = request.substrate;
      if (request.type === 'connect') {
        const ok = mine.some((r) =>
          substrate === 'http'
            ? r.http.length > 0
            : substrate === 'cli'
              ? r.cli.length > 0
              : substrate === 'tcp' && r.tcp,
        );
        return ok
          ? { allow: true, reason: `${who} has ${substrate} rules` }
          : { allow: false, reason: `${who} may not connect to ${substrate}` };
      }
      if (substrate === 'http') {
        const method = (request.method ?? '').toUpperCase();
        const path = (request.path ?? '').split('?')[0]!;
        for (const r of mine)
          for (const h of r.http)
            if ((h.method === '*' || h.method === method) && h.path.test(path))
              return { allow: true, reason: `rule "${h.text}" for ${r.principal}` };
        return { allow: false, reason: `no rule allows ${who} ${method} ${path}` };
      }
      if (substrate === 'cli') {
        const argv = request.command ?? [];
        const base = (argv[0] ?? '').split('/').pop() ?? '';
        for (const r of mine)
          for (const c of r.cli)
            if (c.argv.length <= argv.length && c.argv.every((a, i) => a === argv[i] || (i === 0 && a === base)))
              return { allow: true, reason: `rule "${c.text}" for ${r.principal}` };
        return { allow: false, reason: `no rule allows ${who} to run ${argv.join(' ') || '(empty command)'}` };
      }
      if (substrate === 'tcp')
        return mine.some((r) => r.tcp)
          ? { allow: true, reason: `${who} may use tcp` }
          : { allow: false, reason: `${who} may not use tcp` };
      return { allow: false, reason: `no rules for substrate ${substrate}` };
    },
  };
}
