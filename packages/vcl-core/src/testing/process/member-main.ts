#!/usr/bin/env node
/**
 * The entry of one member process of the multi-process ordering harness:
 * `node dist/testing/process/member-main.js <config.json>` (see `MemberProcessConfig`).
 * Exit codes: 64 bad config, 65 plugin cannot be loaded or built, 66 start failed, 70 crashed.
 */
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { parseMemberProcessConfig, type MemberProcessConfig } from './member-config';
import { runMemberProcess } from './member-process';

const file = process.argv[2];
let config: MemberProcessConfig;
try {
  if (!file) throw new Error('usage: member-main.js <config.json>');
  config = parseMemberProcessConfig(JSON.parse(readFileSync(file, 'utf8')), file);
} catch (err) {
  process.stderr.write(`member-main: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(64);
}
void runMemberProcess(config);
