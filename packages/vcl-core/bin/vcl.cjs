#!/usr/bin/env node
'use strict';
// `vcl`: a committed shim so npm can link the bin before dist/ exists (see load-built.cjs).
require('./load-built.cjs').loadBuilt('vcl', require('node:path').join(__dirname, '..'), 'dist/cli/main.js');
