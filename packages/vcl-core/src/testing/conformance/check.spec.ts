import type { PartitionMode } from '../../contracts/ordering';
import { checkOrderingHistory } from './check';
import {
  chainDigest,
  INITIAL_DIGEST,
  messageId,
  type Guarantee,
  type IncarnationHistory,
  type OrderingHistory,
  type Violation,
} from './history';

/** Builds hand-made histories: one incarnation at a time, events in the order they are added. */
class Builder {
  readonly history: OrderingHistory;
  private time = 0;

  constructor(members = ['n1', 'n2', 'n3'], partition: PartitionMode = 'primary-component') {
    this.history = { members, partition, incarnations: [], faults: [] };
  }

  inc(member: string, incarnation = 1): Inc {
    const h: IncarnationHistory = {
      member,
      incarnation,
      startedAt: this.time,
      views: [],
      deliveries: [],
      broadcasts: [],
      stateInstalls: [],
      stateCaptures: [],
    };
    this.history.incarnations.push(h);
    return new Inc(h, () => ++this.time);
  }

  /** Marks the run as ended after a quiet period, so liveness is checked. */
  end(): OrderingHistory {
    this.history.faultsEndedAt = this.time + 1;
    this.history.endedAt = this.time + 100;
    return this.history;
  }
}

class Inc {
  private step = 0;
  private digest = INITIAL_DIGEST;
  constructor(
    readonly h: IncarnationHistory,
    private readonly tick: () => number,
  ) {}

  view(id: number, members: string[], cut: number, primary = true): this {
    this.h.views.push({ id, members, cut, primary, at: this.tick(), step: this.step++ });
    return this;
  }

  /** Delivers `id` (`n1#1:3`) at `seq`; the view defaults to the last one installed. */
  deliver(seq: number, id: string, view = this.h.views[this.h.views.length - 1]?.id ?? 0): this {
    const sender = id.split('#')[0]!;
    this.h.deliveries.push({ view, seq, sender, messageId: id, at: this.tick(), step: this.step++ });
    this.digest = chainDigest(this.digest, id);
    return this;
  }

  /** Broadcasts counter `counter`; `resolved` gives the seq and view its promise resolved with. */
  broadcast(counter: number, resolved?: { seq: number; view: number }): this {
    const at = this.tick();
    this.h.broadcasts.push({
      messageId: messageId(this.h.member, this.h.incarnation, counter),
      counter,
      at,
      ...(resolved ? { resolved: { at: at + 1, ...resolved } } : {}),
    });
    return this;
  }

  install(cut: number, digest: string): this {
    this.h.stateInstalls.push({ cut, digest, capturedCut: cut, at: this.tick(), step: this.step++ });
    this.digest = digest;
    return this;
  }

  capture(cut: number, applied = cut): this {
    this.h.stateCaptures.push({ cut, digest: this.digest, applied, at: this.tick(), step: this.step++ });
    return this;
  }

  crash(): this {
    this.h.crashedAt = this.tick();
    return this;
  }
}

/** The digest after delivering `ids` in order. */
function digestOf(...ids: string[]): string {
  return ids.reduce(chainDigest, INITIAL_DIGEST);
}

const guarantees = (vs: Violation[]) => [...new Set(vs.map((v) => v.guarantee))].sort();
const only = (vs: Violation[], g: Guarantee) => vs.filter((v) => v.guarantee === g);

/**
 * A clean three-member run: n1 and n2 broadcast, everyone delivers in one order, n3 crashes and
 * its restart n3#2 joins view 2 with state at cut 2, then everybody delivers one more message.
 */
function clean() {
  const b = new Builder();
  const n1 = b.inc('n1');
  const n2 = b.inc('n2');
  const n3 = b.inc('n3');
  n1.broadcast(1, { seq: 1, view: 1 }).broadcast(2, { seq: 3, view: 2 });
  n2.broadcast(1, { seq: 2, view: 1 });
  for (const x of [n1, n2, n3]) x.view(1, ['n1', 'n2', 'n3'], 0).deliver(1, 'n1#1:1').deliver(2, 'n2#1:1');
  n3.crash();
  const n3b = b.inc('n3', 2);
  n1.view(2, ['n1', 'n2', 'n3'], 2).capture(2);
  n2.view(2, ['n1', 'n2', 'n3'], 2);
  n3b.view(2, ['n1', 'n2', 'n3'], 2).install(2, digestOf('n1#1:1', 'n2#1:1'));
  for (const x of [n1, n2, n3b]) x.deliver(3, 'n1#1:2');
  return { b, n1, n2, n3, n3b };
}

describe('checkOrderingHistory', () => {
  it('finds nothing wrong in a clean history with a crash, a restart and a state transfer', () => {
    const { b } = clean();
    expect(checkOrderingHistory(b.end())).toEqual([]);
  });

  describe('total order', () => {
    it('catches the same seq carrying different messages at two members', () => {
      const b = new Builder(['n1', 'n2']);
      const n1 = b.inc('n1').broadcast(1).broadcast(2);
      const n2 = b.inc('n2');
      n1.view(1, ['n1', 'n2'], 0).deliver(1, 'n1#1:1').deliver(2, 'n1#1:2');
      n2.view(1, ['n1', 'n2'], 0).deliver(1, 'n1#1:2').deliver(2, 'n1#1:1');
      const vs = only(checkOrderingHistory(b.history), 'total-order');
      expect(vs.map((v) => v.message)).toContain('seq 1 is n1#1:1 at n1#1 (view 1) but n1#1:2 at n2#1 (view 1)');
      expect(vs[0]).toMatchObject({ member: 'n2', incarnation: 1, seq: 1, view: 1 });
    });

    it('catches a gap and a seq that goes backwards in one member log', () => {
      const b = new Builder(['n1']);
      const n1 = b.inc('n1').broadcast(1).broadcast(2).broadcast(3);
      n1.view(1, ['n1'], 0).deliver(1, 'n1#1:1').deliver(3, 'n1#1:3').deliver(2, 'n1#1:2');
      const messages = only(checkOrderingHistory(b.history), 'total-order').map((v) => v.message);
      expect(messages).toEqual([
        'n1#1 delivered seq 3 right after seq 1: seqs 2..2 were skipped',
        'n1#1 delivered seq 2 after seq 3: seqs must increase',
      ]);
    });
  });

  describe('uniform agreement', () => {
    it('catches a message delivered by a member that crashed and never by a survivor still in the primary view', () => {
      const b = new Builder();
      const n1 = b.inc('n1').broadcast(1, { seq: 1, view: 1 });
      const n2 = b.inc('n2');
      const n3 = b.inc('n3');
      for (const x of [n1, n2, n3]) x.view(1, ['n1', 'n2', 'n3'], 0);
      n1.deliver(1, 'n1#1:1').crash();
      const n1b = b.inc('n1', 2);
      // The survivors (and n1's restart) go on from cut 0 as if seq 1 never happened.
      for (const x of [n2, n3, n1b]) x.view(2, ['n1', 'n2', 'n3'], 0);
      n1b.install(0, INITIAL_DIGEST);
      const vs = checkOrderingHistory(b.end());
      expect(guarantees(vs)).toEqual(['agreement']);
      expect(vs.map((v) => v.message)).toContain(
        'n2#1 is alive in primary view 2 at the end but delivered only up to seq 0, while seq 1 (n1#1:1, ' +
          'delivered by n1#1) up to seq 1 were delivered elsewhere',
      );
    });

    it('catches a survivor that moved past the seq with another message', () => {
      const b = new Builder();
      const n1 = b.inc('n1').broadcast(1);
      const n2 = b.inc('n2').broadcast(1);
      const n3 = b.inc('n3');
      for (const x of [n1, n2, n3]) x.view(1, ['n1', 'n2', 'n3'], 0);
      n1.deliver(1, 'n1#1:1').crash();
      for (const x of [n2, n3]) x.view(2, ['n2', 'n3'], 0).deliver(1, 'n2#1:1');
      const vs = checkOrderingHistory(b.history);
      expect(only(vs, 'agreement').map((v) => v.message)).toContain(
        'n1#1:1 was delivered at seq 1 by n1#1 (which crashed at 7), but n2#1 moved past seq 1 (delivered up ' +
          'to seq 1) without delivering it',
      );
    });

    it('catches a promise that resolved with a seq the message was not delivered at', () => {
      const b = new Builder(['n1']);
      const n1 = b.inc('n1').broadcast(1, { seq: 2, view: 1 }).broadcast(2);
      n1.view(1, ['n1'], 0).deliver(1, 'n1#1:1').deliver(2, 'n1#1:2');
      const vs = checkOrderingHistory(b.history);
      expect(vs.map((v) => `${v.guarantee}: ${v.message}`)).toEqual([
        'agreement: broadcast n1#1:1 resolved with seq 2 in view 1, but it was delivered at seq 1 in view 1 (by n1#1)',
      ]);
    });
  });

  describe('virtual synchrony', () => {
    it('catches two members installing different views under one id', () => {
      const b = new Builder();
      b.inc('n1').view(4, ['n1', 'n2'], 0);
      b.inc('n2').view(4, ['n2', 'n3'], 0);
      const vs = checkOrderingHistory(b.history);
      expect(vs.map((v) => `${v.guarantee}: ${v.message}`)).toEqual([
        'virtual-synchrony: view 4 differs between members: n1#1 installed view 4 {n1,n2} cut 0, n2#1 installed ' +
          'view 4 {n2,n3} cut 0',
      ]);
    });

    it('catches view ids that do not increase, a view without the member, and a delivery in a view not installed', () => {
      const b = new Builder(['n1', 'n2']);
      const n1 = b.inc('n1').broadcast(1);
      n1.view(5, ['n1', 'n2'], 0).view(3, ['n2'], 0).deliver(1, 'n1#1:1', 7);
      b.inc('n2').view(5, ['n1', 'n2'], 0).view(3, ['n2'], 0).deliver(1, 'n1#1:1', 3);
      const messages = only(checkOrderingHistory(b.history), 'virtual-synchrony').map((v) => v.message);
      expect(messages).toEqual([
        'n1#1 installed view 3 after view 5: view ids must strictly increase',
        'n1#1 installed view 3 {n2} cut 0, which does not contain it',
        'n1#1 delivered seq 1 reporting view 7, but its installed view is 3',
        'n2#1 installed view 3 after view 5: view ids must strictly increase',
      ]);
    });

    it('catches members that move from V to V together but delivered different sets in V', () => {
      const b = new Builder();
      const n1 = b.inc('n1').broadcast(1).broadcast(2);
      const n2 = b.inc('n2');
      const n3 = b.inc('n3');
      for (const x of [n1, n2, n3]) x.view(1, ['n1', 'n2', 'n3'], 0).deliver(1, 'n1#1:1');
      n1.deliver(2, 'n1#1:2');
      n1.view(2, ['n1', 'n2', 'n3'], 1);
      n2.view(2, ['n1', 'n2', 'n3'], 1);
      const messages = only(checkOrderingHistory(b.history), 'virtual-synchrony').map((v) => v.message);
      expect(messages).toContain(
        'n1#1 and n2#1 both moved from view 1 to view 2 but delivered different sets in view 1: only at n1#1: ' +
          'n1#1:2 (1); only at n2#1: - (0)',
      );
      expect(messages).toContain(
        'n1#1 installed view 2 {n1,n2,n3} cut 1 after it had already delivered up to seq 2: the cut must be the ' +
          'last seq delivered before the view',
      );
    });
  });

  describe('primary component', () => {
    it('catches deliveries in a minority view and a minority view marked primary', () => {
      const b = new Builder();
      const n3 = b.inc('n3').broadcast(1);
      n3.view(7, ['n3'], 0, false).deliver(1, 'n3#1:1');
      b.inc('n1').view(8, ['n1'], 0, true);
      const vs = only(checkOrderingHistory(b.history), 'primary-component');
      expect(vs.map((v) => v.message)).toEqual([
        'n3#1 delivered 1 message(s) (seq 1..1) in view 7 {n3} cut 0 non-primary, which holds only 1 of 3 configured members',
        'view 8 {n1} cut 0 is marked primary but holds 1 of 3 configured members',
      ]);
    });

    it('lets a fail-stop group deliver alone', () => {
      const b = new Builder(['n1', 'n2'], 'fail-stop');
      b.inc('n1').broadcast(1, { seq: 1, view: 1 }).view(1, ['n1'], 0).deliver(1, 'n1#1:1');
      expect(checkOrderingHistory(b.history)).toEqual([]);
    });
  });

  describe('integrity', () => {
    it('catches a duplicate delivery and a message nobody broadcast', () => {
      const b = new Builder(['n1']);
      const n1 = b.inc('n1').broadcast(1);
      n1.view(1, ['n1'], 0).deliver(1, 'n1#1:1').deliver(2, 'n1#1:1').deliver(3, 'n2#1:9');
      const messages = only(checkOrderingHistory(b.history), 'integrity').map((v) => v.message);
      expect(messages).toContain('n1#1 delivered n1#1:1 twice: at seq 1 and at seq 2');
      expect(messages).toContain('n1#1 delivered n2#1:9 at seq 3, which nobody broadcast');
      expect(messages).toContain('n1#1:1 was ordered more than once: seq 1 at n1#1, seq 2 at n1#1');
    });

    it('catches a payload that is no workload message and a wrong sender', () => {
      const b = new Builder(['n1', 'n2']);
      const n1 = b.inc('n1').broadcast(1);
      n1.view(1, ['n1', 'n2'], 0);
      n1.h.deliveries.push({ view: 1, seq: 1, sender: 'n2', messageId: 'n1#1:1', at: 9, step: 1 });
      n1.h.deliveries.push({ view: 1, seq: 2, sender: 'n2', messageId: undefined, at: 9, step: 2 });
      const messages = only(checkOrderingHistory(b.history), 'integrity').map((v) => v.message);
      expect(messages).toEqual([
        'n1#1 delivered n1#1:1 at seq 1 as sent by n2, but n1#1 broadcast it',
        'n1#1 delivered seq 2 from n2 with a payload that is no workload message',
      ]);
    });

    it('catches a break of sender FIFO, in delivery order and in the total order', () => {
      const b = new Builder(['n1']);
      const n1 = b.inc('n1').broadcast(1).broadcast(2).broadcast(3);
      n1.view(1, ['n1'], 0).deliver(1, 'n1#1:2').deliver(2, 'n1#1:1').deliver(3, 'n1#1:3');
      const messages = only(checkOrderingHistory(b.history), 'integrity').map((v) => v.message);
      expect(messages).toEqual([
        'n1#1 delivered n1#1:1 (seq 2) after n1#1:2, but n1#1 broadcast it first (sender FIFO)',
        'n1#1:2 was ordered at seq 1 but n1#1:1, broadcast before it by n1#1, was ordered later, at seq 2 (sender FIFO)',
      ]);
    });

    it('catches a later message ordered while an earlier one of the same sender never is', () => {
      const b = new Builder(['n1']);
      const n1 = b.inc('n1').broadcast(1).broadcast(2);
      n1.view(1, ['n1'], 0).deliver(1, 'n1#1:2');
      expect(only(checkOrderingHistory(b.history), 'integrity').map((v) => v.message)).toEqual([
        'n1#1:2 was ordered at seq 1 but n1#1:1, broadcast before it by n1#1, was never ordered (sender FIFO)',
      ]);
    });
  });

  describe('join', () => {
    it('catches a joiner installing a state that is not the state at the cut', () => {
      const { b, n3b } = clean();
      n3b.h.stateInstalls[0] = { ...n3b.h.stateInstalls[0]!, digest: digestOf('n2#1:1', 'n1#1:1') };
      const vs = checkOrderingHistory(b.end());
      expect(guarantees(vs)).toEqual(['join']);
      expect(vs[0]!.message).toBe(
        `n3#2 installed state at cut 2 with digest ${digestOf('n2#1:1', 'n1#1:1')}, but the state after seq 2 in ` +
          `the total order is ${digestOf('n1#1:1', 'n2#1:1')}`,
      );
    });

    it('catches a donor that captured its state away from the cut', () => {
      const { b, n1 } = clean();
      n1.h.stateCaptures[0] = { ...n1.h.stateCaptures[0]!, applied: 1, digest: digestOf('n1#1:1') };
      const messages = only(checkOrderingHistory(b.end()), 'join').map((v) => v.message);
      expect(messages).toContain(
        'n1#1 was asked to capture state at cut 2 when its application had applied up to seq 1: capture must ' +
          'happen exactly at the cut',
      );
    });

    it('catches a joiner that delivers above a cut it never received state for', () => {
      const { b, n3b } = clean();
      n3b.h.stateInstalls.length = 0;
      const messages = only(checkOrderingHistory(b.end()), 'join').map((v) => v.message);
      expect(messages).toEqual([
        'n3#2 delivered seq 3 in view 2 {n1,n2,n3} cut 2 without installing state at cut 2 (it had delivered only up to seq 0)',
      ]);
    });

    it('catches a restarted member that never gets back into a view', () => {
      const b = new Builder(['n1', 'n2', 'n3']);
      for (const m of ['n1', 'n2']) b.inc(m).view(1, ['n1', 'n2'], 0);
      b.inc('n3').crash();
      b.inc('n3', 2);
      const vs = checkOrderingHistory(b.end());
      expect(only(vs, 'join').map((v) => v.message)).toEqual([
        'n3#2 restarted at 3 and lived to the end, but never installed a view containing it',
      ]);
    });
  });

  describe('liveness', () => {
    it('catches members that end in different views and broadcasts never delivered or never settled', () => {
      const b = new Builder();
      const n1 = b.inc('n1').broadcast(1).broadcast(2);
      const n2 = b.inc('n2');
      const n3 = b.inc('n3');
      for (const x of [n1, n2, n3]) x.view(1, ['n1', 'n2', 'n3'], 0).deliver(1, 'n1#1:1');
      n1.view(2, ['n1', 'n2'], 1);
      n2.view(2, ['n1', 'n2'], 1);
      const messages = only(checkOrderingHistory(b.end()), 'liveness').map((v) => v.message);
      expect(messages).toHaveLength(3);
      expect(messages[0]).toMatch(
        /^at the end \(t=\d+, faults ended at \d+\) the live members are not in one primary view of all members: n1#1 in view 2 \{n1,n2\} cut 1; n2#1 in view 2 \{n1,n2\} cut 1; n3#1 in view 1 \{n1,n2,n3\} cut 0$/,
      );
      expect(messages[1]).toMatch(/^n1#1:1, broadcast at t=1 .* was delivered at seq 1 but its promise never settled$/);
      expect(messages[2]).toMatch(/^n1#1:2, broadcast at t=2 .* was never delivered by anyone$/);
    });

    it('is not checked for a history without an end', () => {
      const b = new Builder();
      b.inc('n1').broadcast(1);
      expect(checkOrderingHistory(b.history)).toEqual([]);
    });
  });
});
