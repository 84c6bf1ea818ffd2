import * as path from 'node:path';
import { formatFiles, generateFiles, names, offsetFromRoot, updateJson, type Tree } from '@nx/devkit';

/** Options of `nx g @vcl/tools:substrate` (see schema.json). */
export interface SubstrateGeneratorOptions {
  /** The substrate's short name (kebab-case), as a stack file names it. */
  readonly name: string;
  /** The directory the package goes in; default `packages`. */
  readonly directory?: string;
  /** The npm package name; default `@vcl/substrate-<name>`. */
  readonly packageName?: string;
  /** Skip formatting the files with Prettier; default false. */
  readonly skipFormat?: boolean;
}

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const TAKEN = new Set(['tcp', 'http', 'cli', 'resp']);

/** What the generator writes, for a given name (the templates' substitutions). */
export function substitutions(options: SubstrateGeneratorOptions, projectRoot: string): Record<string, string> {
  const n = names(options.name);
  return {
    name: options.name,
    className: n.className,
    propertyName: n.propertyName,
    constantName: n.constantName,
    fileName: n.fileName,
    packageName: options.packageName ?? `@vcl/substrate-${options.name}`,
    offset: offsetFromRoot(projectRoot),
    projectRoot,
    tmpl: '',
  };
}

/**
 * Creates `<directory>/substrate-<name>`: a substrate plugin package (a line-per-message TCP
 * protocol to start from: factory, Options with documented defaults, registration), a README, and
 * specs that run the substrate conformance kit; adds the package to tsconfig.base.json's paths and
 * to jest.preset.cjs's moduleNameMapper (without the mapping, another project's test that imports
 * the new package would load its unbuilt `dist` instead of its sources).
 */
export async function substrateGenerator(tree: Tree, options: SubstrateGeneratorOptions): Promise<void> {
  if (!NAME.test(options.name))
    throw new Error(`substrate name ${JSON.stringify(options.name)} must be kebab-case (a-z, 0-9, single dashes)`);
  if (TAKEN.has(options.name)) throw new Error(`substrate name "${options.name}" is taken by a built-in substrate`);
  const projectRoot = `${options.directory ?? 'packages'}/substrate-${options.name}`;
  if (tree.exists(projectRoot)) throw new Error(`${projectRoot} already exists`);
  const values = substitutions(options, projectRoot);
  generateFiles(tree, path.join(__dirname, 'files'), projectRoot, values);
  if (tree.exists('tsconfig.base.json'))
    updateJson(tree, 'tsconfig.base.json', (json: { compilerOptions?: { paths?: Record<string, string[]> } }) => {
      json.compilerOptions ??= {};
      json.compilerOptions.paths = {
        ...json.compilerOptions.paths,
        [values.packageName as string]: [`${projectRoot}/src/index.ts`],
      };
      return json;
    });
  addJestMapping(tree, values.packageName as string, projectRoot);
  if (!options.skipFormat) await formatFiles(tree);
}

/** Maps the package to its sources in the workspace's jest.preset.cjs, next to the other packages. */
function addJestMapping(tree: Tree, packageName: string, projectRoot: string): void {
  const preset = tree.read('jest.preset.cjs', 'utf8');
  if (preset === null) return;
  const key = `'^${packageName.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')}$'`;
  if (preset.includes(key)) return;
  const at = preset.search(/moduleNameMapper:\s*\{\n/);
  if (at < 0) return;
  const lineEnd = preset.indexOf('\n', at) + 1;
  const entry = `    ${key}: path.join(src('${projectRoot}'), 'index.ts'),\n`;
  tree.write('jest.preset.cjs', preset.slice(0, lineEnd) + entry + preset.slice(lineEnd));
}

export default substrateGenerator;
