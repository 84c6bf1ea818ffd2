import * as assert from 'node:assert/strict';
import type { Conversation, Endpoint, Substrate } from '../../contracts/substrate';
import type { SubstrateConformanceFixture } from './fixture';
import { framingErrorOf, isFramingError } from './framing-checks';
import { PassThroughRelay } from './relay';
import { ConversationReader, connectTcp } from './tcp-client';

// Checks over real conversations (loopback only). Each opens what it needs and closes it again,
// also when it fails.

const LOOPBACK: Endpoint = { host: '127.0.0.1', port: 0 };

function connector(fixture: SubstrateConformanceFixture): (e: Endpoint) => Promise<Conversation> {
  return fixture.connect ? (e) => fixture.connect!(e) : connectTcp;
}

function delivered(fixture: SubstrateConformanceFixture, response: Uint8Array): Uint8Array {
  return fixture.delivered ? fixture.delivered(response) : response;
}

/** The requests conversation `c` sends, in order. */
function script(fixture: SubstrateConformanceFixture, c: number): Uint8Array[] {
  const n = fixture.requestsPerConversation ?? 4;
  return Array.from({ length: n }, (_, k) => fixture.requests[(c + k) % fixture.requests.length] as Uint8Array);
}

/**
 * Plays a real client on `conversation`: sends each request, then waits for `expected(request)`
 * bytes and compares them, one request at a time.
 */
async function exchange(
  conversation: Conversation,
  requests: readonly Uint8Array[],
  expected: (request: Uint8Array) => Uint8Array,
  what: string,
  reader = new ConversationReader(conversation),
  timeoutMs?: number,
): Promise<void> {
  for (const [k, request] of requests.entries()) {
    const want = expected(request);
    conversation.write(request);
    await reader.untilBytes(want.length, timeoutMs);
    const got = reader.take(want.length);
    assert.ok(
      Buffer.from(got).equals(Buffer.from(want)),
      `${what}, request ${k}: got ${JSON.stringify(Buffer.from(got).toString('latin1').slice(0, 200))}, expected ${JSON.stringify(Buffer.from(want).toString('latin1').slice(0, 200))}`,
    );
  }
  assert.equal(reader.bytes, 0, `${what}: ${reader.bytes} unexpected bytes after the last response`);
}

/**
 * `listen`: several real clients at once, each sending its requests one after the other; the kit
 * plays the service (frames each conversation's requests, answers with `respond`). Every client
 * gets exactly its own responses, in order.
 */
export async function checkListen(fixture: SubstrateConformanceFixture): Promise<void> {
  const substrate = await fixture.create();
  const served: Conversation[] = [];
  const listener = await substrate.listen(fixture.listenEndpoint ?? LOOPBACK, (conversation) => {
    served.push(conversation);
    const framer = substrate.requestFramer();
    conversation.onData((bytes) => {
      for (const m of framer.push(bytes)) conversation.write(fixture.respond(m));
    });
  });
  try {
    assert.ok(
      listener.endpoint.port !== 0 || listener.endpoint.command,
      'listen: the listener reports port 0, expected the bound port',
    );
    const n = fixture.conversations ?? 8;
    const clients = await Promise.all(Array.from({ length: n }, () => connector(fixture)(listener.endpoint)));
    await Promise.all(
      clients.map((c, i) =>
        exchange(
          c,
          script(fixture, i),
          (r) => delivered(fixture, fixture.respond(r)),
          `listen, client ${i}`,
          undefined,
          fixture.timeoutMs,
        ),
      ),
    );
    assert.equal(served.length, n, `listen: ${served.length} conversations accepted for ${n} clients`);
    for (const c of clients) c.end();
  } finally {
    await listener.close();
  }
}

/**
 * `dial`: several conversations with the real service at once, each sending its requests one
 * after the other; the response framer cuts exactly the service's responses, in order.
 */
export async function checkDial(fixture: SubstrateConformanceFixture): Promise<void> {
  const substrate = await fixture.create();
  const service = await fixture.startService();
  const conversations: Conversation[] = [];
  try {
    const n = fixture.conversations ?? 8;
    conversations.push(...(await Promise.all(Array.from({ length: n }, () => substrate.dial(service.endpoint)))));
    await Promise.all(
      conversations.map((c, i) =>
        exchange(
          c,
          script(fixture, i),
          (r) => fixture.respond(r),
          `dial, conversation ${i}`,
          new ConversationReader(c, substrate.responseFramer()),
          fixture.timeoutMs,
        ),
      ),
    );
    const ends = conversations.map((c) => new Promise<Error | undefined>((resolve) => c.onEnd(resolve)));
    for (const c of conversations) c.end();
    const results = await Promise.all(ends);
    results.forEach((e, i) =>
      assert.equal(e, undefined, `dial, conversation ${i} ended with ${String(e)} after end()`),
    );
  } finally {
    for (const c of conversations) c.destroy();
    await service.close();
  }
}

/** A signal that aborts at once. */
function aborted(): AbortSignal {
  const controller = new AbortController();
  controller.abort(new Error('aborted by the conformance kit'));
  return controller.signal;
}

/** `dial` with an aborted signal rejects, and opens nothing that outlives it. */
export async function checkDialAbort(fixture: SubstrateConformanceFixture): Promise<void> {
  const substrate = await fixture.create();
  const service = await fixture.startService();
  try {
    let conversation: Conversation | undefined;
    const error = await substrate.dial(service.endpoint, aborted()).then(
      (c) => {
        conversation = c;
        return undefined;
      },
      (e: unknown) => e,
    );
    conversation?.destroy();
    assert.ok(error instanceof Error, 'dial with an aborted signal resolved, expected a rejection');
  } finally {
    await service.close();
  }
}

/**
 * Listen and dial together through a `PassThroughRelay`: several real clients at once reach the
 * real service and get its responses, in order.
 */
export async function checkRelay(fixture: SubstrateConformanceFixture): Promise<void> {
  const substrate = await fixture.create();
  const service = await fixture.startService();
  const relay = await PassThroughRelay.start({ substrate, service: service.endpoint, listen: fixture.listenEndpoint });
  try {
    const n = fixture.conversations ?? 8;
    const clients = await Promise.all(Array.from({ length: n }, () => connector(fixture)(relay.endpoint)));
    await Promise.all(
      clients.map((c, i) =>
        exchange(
          c,
          script(fixture, i),
          (r) => delivered(fixture, fixture.respond(r)),
          `relay, client ${i}`,
          undefined,
          fixture.timeoutMs,
        ),
      ),
    );
    for (const c of clients) c.end();
    assert.deepEqual(relay.errors, [], 'relay: framing errors on well-formed traffic');
  } finally {
    await relay.close();
    await service.close();
  }
}

/**
 * Malformed and oversize requests from a real client get the protocol's own error reply
 * (`errorResponse`, or a plain close when it has none) and the conversation ends; the relay keeps
 * serving: a new client right after gets its response.
 */
export async function checkMalformedConversations(fixture: SubstrateConformanceFixture): Promise<void> {
  const substrate = await fixture.create();
  const service = await fixture.startService();
  const relay = await PassThroughRelay.start({ substrate, service: service.endpoint, listen: fixture.listenEndpoint });
  try {
    const bad = [...fixture.malformedRequests, ...(fixture.oversizeRequest ? [fixture.oversizeRequest] : [])];
    for (const [i, input] of bad.entries()) {
      const error = framingErrorOf(substrate.requestFramer(), input);
      assert.ok(isFramingError(error), `malformed request ${i} is accepted by a fresh framer`);
      const reply = substrate.errorResponse?.(error as Error);
      const client = await connector(fixture)(relay.endpoint);
      const reader = new ConversationReader(client);
      client.write(input);
      const end = await reader.untilEnd(fixture.timeoutMs);
      const got = reader.take(reader.bytes);
      const want = reply ?? new Uint8Array(0);
      assert.ok(
        Buffer.from(got).equals(Buffer.from(want)),
        `malformed request ${i} (${(error as Error).message}): the client got ${JSON.stringify(Buffer.from(got).toString('latin1').slice(0, 200))}, expected ${JSON.stringify(Buffer.from(want).toString('latin1').slice(0, 200))} and the end (ended with ${String(end)})`,
      );
      const next = await connector(fixture)(relay.endpoint);
      const request = fixture.requests[i % fixture.requests.length] as Uint8Array;
      await exchange(
        next,
        [request],
        (r) => delivered(fixture, fixture.respond(r)),
        `good request after malformed ${i}`,
      );
      next.end();
    }
    assert.equal(
      relay.errors.length,
      bad.length,
      `relay saw ${relay.errors.length} framing errors, expected ${bad.length}`,
    );
  } finally {
    await relay.close();
    await service.close();
  }
}

/**
 * Fail-over of a conversation (needs the interceptors, through `fixture.failover`): a client sends
 * half of its requests, the member serving it is killed, it sends the rest; every response
 * arrives exactly once, in order, and the conversation never breaks.
 */
export async function checkFailover(fixture: SubstrateConformanceFixture): Promise<void> {
  if (!fixture.failover) throw new Error('checkFailover needs fixture.failover (a harness built on the interceptors)');
  const stack = await fixture.failover.start({
    substrate: () => fixture.create(),
    service: () => fixture.startService(),
    members: 3,
  });
  try {
    const requests = Array.from({ length: 10 }, (_, k) => fixture.requests[k % fixture.requests.length] as Uint8Array);
    const client = await connector(fixture)(stack.endpoint);
    const reader = new ConversationReader(client);
    const expected = (r: Uint8Array): Uint8Array => delivered(fixture, fixture.respond(r));
    await exchange(client, requests.slice(0, 5), expected, 'before fail-over', reader, fixture.timeoutMs);
    await stack.killServingMember();
    await exchange(client, requests.slice(5), expected, 'after fail-over', reader, fixture.timeoutMs);
    assert.equal(reader.ended, undefined, `the conversation broke during fail-over: ${String(reader.ended)}`);
    client.end();
  } finally {
    await stack.stop();
  }
}

/** The substrate's name and pattern are set. */
export function checkIdentity(substrate: Substrate): void {
  assert.ok(typeof substrate.name === 'string' && substrate.name.length > 0, 'substrate.name is empty');
  assert.ok(
    substrate.pattern === 'request-response' || substrate.pattern === 'stream',
    `substrate.pattern is ${String(substrate.pattern)}`,
  );
}
