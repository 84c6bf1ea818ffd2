'use strict';
// Shared by the committed bin shims (`vcl`, `vcl-exec`). npm links a package's bins when it
// installs it, and in a fresh clone `npm ci` runs before anything is built: a bin pointing into
// dist/ would not be linked at all ("could not determine executable to run"). So each bin is a
// committed file that loads its built entry point, and in a source checkout builds the libraries
// once when they were never built. Kept to node built-ins so that `vcl-exec` starts fast.
const fs = require('node:fs');
const path = require('node:path');

/** The workspace root when `pkgDir` is a package of a VCL source checkout, else undefined. */
function checkoutRoot(pkgDir) {
  const root = path.resolve(pkgDir, '..', '..');
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    return Array.isArray(manifest.workspaces) && fs.existsSync(path.join(pkgDir, 'tsconfig.lib.json'))
      ? root
      : undefined;
  } catch {
    return undefined;
  }
}

/** Builds every library of the checkout (`tsc -b`), as `npm run build` would, printing why to stderr. */
function buildCheckout(command, root) {
  const { spawnSync } = require('node:child_process');
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    process.stderr.write(`${command}: this checkout is not built and typescript is not installed: run npm ci first\n`);
    process.exit(70);
  }
  const projects = fs
    .readdirSync(path.join(root, 'packages'))
    .map((p) => path.join('packages', p, 'tsconfig.lib.json'))
    .filter((p) => fs.existsSync(path.join(root, p)));
  process.stderr.write(
    `${command}: first run in a source checkout: building the libraries (tsc -b ${projects.length} projects, once; npm run build does the same)\n`,
  );
  const r = spawnSync(process.execPath, [tsc, '-b', ...projects], { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    process.stderr.write(`${command}: the build failed (exit ${r.status}); see the errors above\n`);
    process.exit(70);
  }
}

/**
 * Loads `entry` (a path inside the package at `pkgDir`, e.g. `dist/cli/main.js`). When it is missing
 * in a source checkout the libraries are built first; in an installed package it says what is wrong.
 */
function loadBuilt(command, pkgDir, entry) {
  const file = path.join(pkgDir, entry);
  if (!fs.existsSync(file)) {
    const root = checkoutRoot(pkgDir);
    if (!root) {
      process.stderr.write(`${command}: ${file} is missing: the package is not built; reinstall it\n`);
      process.exit(70);
    }
    buildCheckout(command, root);
  }
  require(file);
}

module.exports = { loadBuilt };
