// Entry point Nx loads for `nx g @vcl/tools:substrate`. Nx runs a local generator written in
// TypeScript only through swc-node or ts-node, which this workspace does not install; so this shim
// compiles the generator's sources (tools/src only) with the workspace's TypeScript on the fly.
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const sources = path.join(__dirname, '..', '..') + path.sep;
const previous = require.extensions['.ts'];
require.extensions['.ts'] = function compileToolsSource(module, filename) {
  if (!filename.startsWith(sources)) {
    if (previous) return previous(module, filename);
    throw new Error(`cannot load ${filename}: no TypeScript loader for files outside ${sources}`);
  }
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      sourceMap: false,
    },
  });
  module._compile(outputText, filename);
};

module.exports = require('./generator.ts');
