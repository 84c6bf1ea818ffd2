import type { Violation } from '../conformance/history';
import { scenarioProblems, scenarioVerdict, type ProcessScenarioResult } from './scenarios';

function result(
  logs: Record<string, string[]>,
  resolved: string[],
  violations: Violation[] = [],
  stateCuts: Record<string, number[]> = {},
): ProcessScenarioResult {
  return {
    violations,
    report: 'REPORT',
    survivors: Object.keys(logs),
    survivorLogs: new Map(Object.entries(logs)),
    survivorStateCuts: new Map(Object.entries(stateCuts)),
    resolved: new Set(resolved),
    faults: [],
    finalSeq: 0,
    failoverMs: [],
  };
}

const good = ['1 n1#1:1', '2 n2#1:1', '3 n1#1:2'];

describe('scenario claims', () => {
  it('accept identical survivor logs holding every resolved message', () => {
    const r = result({ n3: good, n4: good, n5: good }, ['n1#1:1', 'n1#1:2']);
    expect(scenarioProblems(r)).toEqual([]);
    expect(scenarioVerdict(r)).toBe('ok');
  });

  it('report survivor logs that differ, with the first differing line', () => {
    const r = result({ n3: good, n4: ['1 n1#1:1', '2 n1#1:2', '3 n2#1:1'], n5: good.slice(0, 2) }, []);
    expect(scenarioProblems(r)).toEqual([
      "n4's delivery log differs from n3's at line 2: 2 n1#1:2 vs 2 n2#1:1 (3 vs 3 deliveries)",
      "n5's delivery log differs from n3's (2 vs 3 deliveries)",
    ]);
  });

  it('report duplicates and resolved broadcasts a survivor lacks', () => {
    const r = result({ n3: [...good, '4 n2#1:1'] }, ['n1#1:1', 'n1#1:9']);
    expect(scenarioProblems(r)).toEqual([
      'n3 delivered 1 message(s) twice: n2#1:1',
      'n3 lacks 1 message(s) whose broadcast resolved: n1#1:9',
    ]);
  });

  // A 5-member real-TCP run under load: n3 was excluded while alive, joined again with state at
  // cut 530, so its log jumps from 480 to 531; that is not a lost delivery.
  it('accept a survivor whose gap is covered by state it installed, and catch what the state does not cover', () => {
    const full = ['1 n1#1:1', '2 n2#1:1', '3 n1#1:2', '4 n2#1:2', '5 n1#1:3'];
    const rejoined = ['1 n1#1:1', '2 n2#1:1', '5 n1#1:3'];
    expect(scenarioProblems(result({ n2: full, n3: rejoined }, ['n2#1:2'], [], { n3: [4] }))).toEqual([]);
    expect(scenarioProblems(result({ n3: rejoined, n2: full }, ['n2#1:2'], [], { n3: [4] }))).toEqual([]);
    expect(scenarioProblems(result({ n2: full, n3: rejoined }, ['n2#1:2'], [], { n3: [3] }))).toEqual([
      'n3 lacks 1 delivery(ies) after its state transfer at cut 3: seq 4',
      'n3 lacks 1 message(s) whose broadcast resolved: n2#1:2',
    ]);
    const wrong = ['1 n1#1:1', '2 n2#1:1', '5 n2#1:9'];
    expect(scenarioProblems(result({ n2: full, n3: wrong }, [], [], { n3: [4] }))).toEqual([
      "n3's delivery 5 n2#1:9 differs from n2's 5 n1#1:3",
    ]);
  });

  it('report conformance violations, and put the run report in the verdict', () => {
    const r = result({ n3: good }, [], [{ guarantee: 'total-order', message: 'seq 2 differs' }]);
    expect(scenarioProblems(r)).toEqual(['conformance: 1 violation(s)']);
    expect(scenarioVerdict(r)).toBe('conformance: 1 violation(s)\nREPORT');
  });
});
