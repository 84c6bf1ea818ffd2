#!/usr/bin/env node
'use strict';
// `vcl-exec`: a committed shim so npm can link the bin before dist/ exists (@vcl/core/bin/load-built.cjs).
require('@vcl/core/bin/load-built.cjs').loadBuilt(
  'vcl-exec',
  require('node:path').join(__dirname, '..'),
  'dist/bin/vcl-exec.js',
);
