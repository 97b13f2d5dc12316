import { describe, expect, it } from 'vitest';
import { BodyRejectedError, InspectingSink, inspectWhole, type BodyInspector } from './body-inspection.js';
import type { RequestBodySink } from './downstream.js';

/** Records what reaches the next sink. */
function recorder() {
  const events: string[] = [];
  const sink: RequestBodySink = {
    onBodyChunk: (c) => events.push(`chunk:${c.toString()}`),
    onBodyEnd: () => events.push('end'),
    onBodyError: (e) => events.push(`error:${e instanceof BodyRejectedError ? e.reply.status : e.message}`),
  };
  return { events, sink };
}

/** Refuses any chunk containing "bad"; refuses at end unless the body ended with "!". */
function inspector(seen: string[]): BodyInspector {
  let last = '';
  return {
    chunk(d) {
      seen.push(d.toString());
      last = d.toString();
      return last.includes('bad') ? { status: 400, message: 'bad chunk' } : undefined;
    },
    end: () => (last.endsWith('!') ? undefined : { status: 422, message: 'unterminated' }),
  };
}

describe('InspectingSink', () => {
  it('forwards every chunk in order, holding one back until the next is inspected, then ends', () => {
    const { events, sink } = recorder();
    const s = new InspectingSink([inspector([])], sink);
    s.onBodyChunk(Buffer.from('a'));
    expect(events).toEqual([]); // held back
    s.onBodyChunk(Buffer.from('b'));
    expect(events).toEqual(['chunk:a']);
    s.onBodyChunk(Buffer.from('c!'));
    s.onBodyEnd();
    expect(events).toEqual(['chunk:a', 'chunk:b', 'chunk:c!', 'end']);
  });

  it('stops at the first violating chunk: that chunk and the held one never reach the next sink', () => {
    const { events, sink } = recorder();
    const seen: string[] = [];
    const s = new InspectingSink([inspector(seen)], sink);
    s.onBodyChunk(Buffer.from('a'));
    s.onBodyChunk(Buffer.from('b'));
    s.onBodyChunk(Buffer.from('bad'));
    s.onBodyChunk(Buffer.from('more'));
    s.onBodyEnd();
    expect(events).toEqual(['chunk:a', 'error:400']);
    expect(seen).toEqual(['a', 'b', 'bad']); // nothing inspected after the verdict
  });

  it('an end() verdict keeps the last chunk back, so the upstream never gets a complete body', () => {
    const { events, sink } = recorder();
    const s = new InspectingSink([inspector([])], sink);
    s.onBodyChunk(Buffer.from('x'));
    s.onBodyChunk(Buffer.from('y'));
    s.onBodyEnd();
    expect(events).toEqual(['chunk:x', 'error:422']);
  });

  it('runs inspectors in order and the first verdict wins', () => {
    const { events, sink } = recorder();
    const order: string[] = [];
    const first: BodyInspector = { chunk: () => (order.push('first'), { status: 413, message: 'big' }), end: () => undefined };
    const second: BodyInspector = { chunk: () => (order.push('second'), undefined), end: () => undefined };
    const s = new InspectingSink([first, second], sink);
    s.onBodyChunk(Buffer.from('z'));
    expect(order).toEqual(['first']);
    expect(events).toEqual(['error:413']);
  });

  it('passes a downstream error through once and ignores what follows', () => {
    const { events, sink } = recorder();
    const s = new InspectingSink([inspector([])], sink);
    s.onBodyChunk(Buffer.from('a'));
    s.onBodyError(new Error('limit'));
    s.onBodyChunk(Buffer.from('b'));
    s.onBodyEnd();
    expect(events).toEqual(['error:limit']);
  });
});

describe('inspectWhole', () => {
  it('inspects a buffered body as one chunk plus end', () => {
    expect(inspectWhole([inspector([])], Buffer.from('ok!'))).toBeUndefined();
    expect(inspectWhole([inspector([])], Buffer.from('bad!'))?.status).toBe(400);
    expect(inspectWhole([inspector([])], Buffer.from('no end'))?.status).toBe(422);
  });
  it('an empty body gets only end()', () => {
    const seen: string[] = [];
    expect(inspectWhole([inspector(seen)], Buffer.alloc(0))?.status).toBe(422);
    expect(seen).toEqual([]);
  });
});
