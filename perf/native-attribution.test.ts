import { describe, expect, it } from 'vitest';
import { attribute, jsFrame, parsePerfScript, renderAttribution } from './native-attribution.js';

// `perf script -F ip,sym` of five samples, leaf first, as perf prints them.
const SCRIPT = `
	ffffffff8200db0c tcp_sendmsg_locked
	ffffffff8200ec5b tcp_sendmsg
	          10aba4 __send

	    7f1c2a3b4c5d Builtins_StringAdd_CheckNone
	    7f1c2a3b0000 JS:*writeRequest file:///repo/dist/workers/proxy/http1/upstream-pool.js:174:17
	    7f1c2a3b0100 JS:*run file:///repo/dist/workers/proxy/http1/upstream-pool.js:517:8

	    7f1c2a3b0010 JS:*writeRequest file:///repo/dist/workers/proxy/http1/upstream-pool.js:174:17
	    7f1c2a3b0100 JS:*run file:///repo/dist/workers/proxy/http1/upstream-pool.js:517:8

	    55d0c0ffee00 v8::internal::Runtime_KeyedStoreIC_Miss
	    7f1c2a3b0300 JS:^collect file:///repo/dist/workers/http/request-guard.js:19:17
	    55d0c0ffee10 v8::Function::Call

	          14c051e uv__io_poll
	          14ac8a7 uv_run
`;

describe('perf attribution', () => {
  it('reads samples and tells kernel leaves from user ones', () => {
    const samples = parsePerfScript(SCRIPT);
    expect(samples.map((s) => [s.kernel, s.frames[0]])).toEqual([
      [true, 'tcp_sendmsg_locked'],
      [false, 'Builtins_StringAdd_CheckNone'],
      [false, 'JS:*writeRequest file:///repo/dist/workers/proxy/http1/upstream-pool.js:174:17'],
      [false, 'v8::internal::Runtime_KeyedStoreIC_Miss'],
      [false, 'uv__io_poll'],
    ]);
  });

  it('names JIT frames and their tier', () => {
    expect(jsFrame('JS:^collect file:///repo/dist/workers/http/request-guard.js:19:17', '/repo/dist/')).toEqual({
      name: 'collect workers/http/request-guard.js:19:17',
      tier: '^',
    });
    expect(jsFrame('JS: /repo/node_modules/x/index.js:1:1', '/repo/dist/')).toEqual({ name: '/repo/node_modules/x/index.js:1:1', tier: '-' });
    expect(jsFrame('Builtins_LoadIC', '/repo/dist/')).toBeNull();
  });

  it('charges each user sample to the nearest JavaScript frame, with what it was doing', () => {
    const a = attribute(parsePerfScript(SCRIPT), '/repo/dist/');
    expect([a.samples, a.kernel, a.user]).toEqual([5, 1, 4]);
    expect(a.javascript.map((r) => [r.name, r.samples, r.tiers])).toEqual([
      ['writeRequest workers/proxy/http1/upstream-pool.js:174:17', 2, { '*': 2 }],
      ['collect workers/http/request-guard.js:19:17', 1, { '^': 1 }],
    ]);
    expect(a.javascript[0]!.leaves).toEqual([
      { name: 'Builtins_StringAdd_CheckNone', samples: 1 },
      { name: '(its own code)', samples: 1 },
    ]);
    expect(a.native).toEqual([{ name: 'uv__io_poll', samples: 1 }]);
    const md = renderAttribution(a, 10, 'title', ['one line']);
    expect(md).toContain('| 1 | 40.0 | writeRequest workers/proxy/http1/upstream-pool.js:174:17 | optimized |');
    expect(md).toContain('| 2 | 20.0 | collect workers/http/request-guard.js:19:17 | baseline | v8::internal::Runtime_KeyedStoreIC_Miss 20.0 |');
    expect(md).toContain('kernel 20.0%, user space 80.0%');
  });
});
