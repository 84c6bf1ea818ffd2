import { FramingError, MessageTooLargeError } from '../../errors';
import {
  checkDial,
  checkDialAbort,
  checkFailover,
  checkIdentity,
  checkListen,
  checkMalformedConversations,
  checkRelay,
} from './conversation-checks';
import type { SubstrateConformanceFixture } from './fixture';
import {
  checkErrorResponses,
  checkEverySplitPoint,
  checkMalformed,
  checkMaximumSize,
  checkRoundTrip,
  framingErrorOf,
  type FramingSample,
} from './framing-checks';

// The Jest globals, looked up when the suite is declared so that importing @vcl/core/testing
// outside Jest (the simulator CLI) does not need them.
interface JestGlobals {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void> | void, timeout?: number): void;
}

/** The fixture's malformed requests and its oversize one. */
function badRequests(fixture: SubstrateConformanceFixture): Uint8Array[] {
  return [...fixture.malformedRequests, ...(fixture.oversizeRequest ? [fixture.oversizeRequest] : [])];
}

function jestGlobals(): JestGlobals {
  const g = globalThis as unknown as Partial<JestGlobals>;
  if (typeof g.describe !== 'function' || typeof g.it !== 'function')
    throw new Error('describeSubstrateConformance must be called inside a Jest test file');
  return g as JestGlobals;
}

/**
 * Declares the substrate conformance suite for one substrate as Jest tests: framing round trips,
 * partial reads at every split point, maximum sizes, malformed input, the protocol's error
 * replies, concurrent conversations through `listen`, `dial` and both together, malformed input
 * over a live conversation, and (when `fixture.failover` is given; it needs the interceptors)
 * fail-over of a conversation with a member killed mid-conversation.
 *
 * @example
 * ```ts
 * import { describeSubstrateConformance } from '@vcl/core/testing';
 * describeSubstrateConformance({ name: 'acme', create: () => acmeSubstrate(), ...samples });
 * ```
 */
export function describeSubstrateConformance(fixture: SubstrateConformanceFixture): void {
  const { describe, it } = jestGlobals();
  const exact = fixture.exactBoundaries ?? true;
  const sample = async (direction: 'request' | 'response'): Promise<FramingSample> => {
    const substrate = await fixture.create();
    return {
      direction,
      exact,
      framer: () => (direction === 'request' ? substrate.requestFramer() : substrate.responseFramer()),
    };
  };

  describe(`substrate conformance: ${fixture.name}`, () => {
    it('has a name and an exchange pattern', async () => checkIdentity(await fixture.create()));

    it('frames requests: back-to-back messages come out as the same messages', async () =>
      checkRoundTrip(await sample('request'), fixture.requests));

    it('frames responses: back-to-back messages come out as the same messages', async () =>
      checkRoundTrip(await sample('response'), fixture.responses));

    it('partial reads: requests cut at every byte offset, byte by byte and in random chunks frame alike', async () =>
      checkEverySplitPoint(await sample('request'), fixture.requests));

    it('partial reads: responses cut at every byte offset, byte by byte and in random chunks frame alike', async () =>
      checkEverySplitPoint(await sample('response'), fixture.responses));

    if (fixture.largestRequest && fixture.oversizeRequest && fixture.maxBufferedBytes !== undefined) {
      const [largest, oversize, buffered] = [fixture.largestRequest, fixture.oversizeRequest, fixture.maxBufferedBytes];
      it('maximum size: the largest request frames, an oversize one is rejected early with MessageTooLargeError', async () =>
        checkMaximumSize(await sample('request'), largest, oversize, buffered));
    }

    if (fixture.largestResponse && fixture.oversizeResponse) {
      const [largest, oversize] = [fixture.largestResponse, fixture.oversizeResponse];
      it('maximum size: the largest response frames, an oversize one is rejected with MessageTooLargeError', async () =>
        checkMaximumSize(await sample('response'), largest, oversize, Number.MAX_SAFE_INTEGER));
    }

    if (fixture.malformedRequests.length) {
      it('malformed requests: FramingError at every split point, and a fresh framer still works', async () =>
        checkMalformed(await sample('request'), fixture.malformedRequests, fixture.requests));
    }

    if (fixture.malformedResponses?.length) {
      const malformed = fixture.malformedResponses;
      it('malformed responses: FramingError at every split point', async () =>
        checkMalformed(await sample('response'), malformed, fixture.responses));
    }

    it("errorResponse: the protocol's error reply is exactly one complete response message", async () => {
      const substrate = await fixture.create();
      const raised = badRequests(fixture).map((m) => framingErrorOf(substrate.requestFramer(), m) as Error);
      checkErrorResponses(substrate, [
        new FramingError('conformance: bad input'),
        new MessageTooLargeError('conformance: too large'),
        new Error('conformance: any other failure'),
        ...raised,
      ]);
    });

    it('listen: concurrent client conversations each get their own responses, in order', () => checkListen(fixture));

    it('dial: concurrent conversations with the service each get their own responses, in order', () =>
      checkDial(fixture));

    it('dial: an aborted signal rejects', () => checkDialAbort(fixture));

    it('listen + dial: concurrent real clients reach the real service through a pass-through relay', () =>
      checkRelay(fixture));

    if (badRequests(fixture).length) {
      it("malformed and oversize requests over a conversation get the protocol's error reply; serving goes on", () =>
        checkMalformedConversations(fixture));
    }

    if (fixture.failover) {
      it(
        'fail-over: a member killed mid-conversation (3 members), every response exactly once and in order',
        () => checkFailover(fixture),
        60_000,
      );
    }
  });
}
