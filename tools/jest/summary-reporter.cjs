// Appends this project's totals to tmp/test-summary.jsonl so `npm test` can print one closing line
// for the whole workspace (each Nx project runs its own Jest).
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const file = path.join(__dirname, '..', '..', 'tmp', 'test-summary.jsonl');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const entry = {
      project: path.relative(path.join(__dirname, '..', '..'), this.rootDir) || '.',
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
      suites: results.numTotalTestSuites,
    };
    fs.appendFileSync(file, `${JSON.stringify(entry)}\n`);
  }
}

module.exports = SummaryReporter;
