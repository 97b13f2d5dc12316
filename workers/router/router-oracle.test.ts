/**
 * Differential test: the indexed, cached Router against a brute-force oracle written straight
 * from Kong's rules (split paths, 64-bit priority as BigInt, scan everything, config order on
 * ties). Random configs and requests from small pools so that routes collide often; a fixed
 * seed keeps failures reproducible.
 */
import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../src/config/types.js';
import { Router } from './router.js';
import { request, route, service } from './test-helpers.js';
import type { MatchInput } from './types.js';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTS = ['a.com', 'b.com', '*.a.com', 'a.*', 'a.com:8080', 'x.a.com', '*.com'];
const PATHS = ['/', '/a', '/ab', '/abc', '/a/b', '/b', '~/a/\\d+', '~/ab?c', '~/b$', '~/(?<x>[ab])', '~/a|/c'];
const METHODS = [['GET'], ['POST'], ['GET', 'POST']];
const HEADERS: Array<Record<string, string[]>> = [{ 'x-a': ['1'] }, { 'x-a': ['~*^2'] }, { 'x-b': ['1'] }, { 'x-a': ['1', '2'], 'x-b': ['1'] }];
const REQ_HOSTS = ['a.com', 'b.com', 'x.a.com', 'y.a.com', 'a.org', 'c.com'];
const REQ_PATHS = ['/', '/a', '/ab', '/abc', '/abcd', '/a/1', '/a/b', '/b', '/ac', '/bb', '/c', '/x/c'];
const REQ_HEADERS: Array<Record<string, string>> = [{}, { 'x-a': '1' }, { 'x-a': '2' }, { 'x-b': '1' }, { 'x-a': '1', 'x-b': '1' }, { 'x-a': '3, 2' }];

function pick<T>(rnd: () => number, a: readonly T[]): T {
  return a[Math.floor(rnd() * a.length)]!;
}

function some<T>(rnd: () => number, a: readonly T[], max: number): T[] {
  const n = 1 + Math.floor(rnd() * max);
  return [...new Set(Array.from({ length: n }, () => pick(rnd, a)))];
}

function randomRoute(rnd: () => number, i: number): RouteConfig {
  const r = route(`r${i}`, {
    paths: rnd() < 0.8 ? some(rnd, PATHS, 3) : null,
    hosts: rnd() < 0.4 ? some(rnd, HOSTS, 2) : null,
    methods: rnd() < 0.3 ? pick(rnd, METHODS) : null,
    headers: rnd() < 0.25 ? pick(rnd, HEADERS) : null,
    regex_priority: Math.floor(rnd() * 3),
    protocols: rnd() < 0.1 ? ['https'] : ['http', 'https'],
  });
  if (!r.paths && !r.hosts && !r.methods && !r.headers) r.paths = ['/'];
  return r;
}

// --- the oracle ---------------------------------------------------------------------------

function hostOk(entry: string, host: string, port: number): boolean {
  const m = /^(.*?)(?::(\d+))?$/.exec(entry)!;
  const name = m[1]!;
  if (m[2] !== undefined && Number(m[2]) !== port) return false;
  if (name.startsWith('*')) return host.endsWith(name.slice(1));
  if (name.endsWith('*')) return host.startsWith(name.slice(0, -1));
  return host === name;
}

function headerOk(values: string[], v: string | undefined): boolean {
  if (v === undefined) return false;
  const candidates = [v, ...v.split(',').map((s) => s.trim())];
  return values.some((val) =>
    candidates.some((c) => (val.startsWith('~*') ? new RegExp(val.slice(2), 'i').test(c) : c.toLowerCase() === val.toLowerCase())),
  );
}

function oracle(routes: RouteConfig[], req: MatchInput): { name: string; matchedPath: string } | null {
  let best: { prio: bigint; index: number; name: string; matchedPath: string } | null = null;
  routes.forEach((r, index) => {
    const groups = new Map<string, string[]>();
    for (const p of r.paths ?? []) {
      const k = p.startsWith('~') ? 're' : String(p.length);
      groups.set(k, [...(groups.get(k) ?? []), p]);
    }
    const parts: Array<string[] | null> = groups.size > 0 ? [...groups.values()] : [null];
    for (const part of parts) {
      if (r.methods && !r.methods.includes(req.method)) continue;
      if (r.hosts && !r.hosts.some((h) => hostOk(h, req.host, req.port))) continue;
      if (r.headers && !Object.entries(r.headers).every(([n, vals]) => headerOk(vals, req.headers[n]))) continue;
      let matchedPath: string | null = '/';
      const isRegex = part !== null && part[0]!.startsWith('~');
      if (part !== null) {
        matchedPath = null;
        for (const p of part) {
          if (isRegex) {
            const m = new RegExp(`^(?:${p.slice(1)})`).exec(req.path);
            if (m) {
              matchedPath = m[0];
              break;
            }
          } else if (req.path.startsWith(p)) {
            matchedPath = p;
            break;
          }
        }
        if (matchedPath === null) continue;
      }
      const headerCount = r.headers ? Object.keys(r.headers).length : 0;
      const weight = [r.methods, r.hosts, part, headerCount > 0 ? 1 : null].filter((x) => x !== null).length;
      const plain = r.hosts !== null && r.hosts.every((h) => !h.includes('*'));
      const prio =
        (BigInt(weight) << 61n) |
        (plain ? 1n << 60n : 0n) |
        (BigInt(headerCount) << 52n) |
        (isRegex ? (1n << 51n) | (BigInt(r.regex_priority) << 19n) : 0n) |
        (isRegex || part === null ? 0n : BigInt(part[0]!.length));
      if (best === null || prio > best.prio || (prio === best.prio && index < best.index)) {
        best = { prio, index, name: r.name!, matchedPath };
      }
    }
  });
  const b = best as { name: string; matchedPath: string } | null;
  return b === null ? null : { name: b.name, matchedPath: b.matchedPath };
}

describe('router vs brute-force oracle', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: 40 configs x 60 requests agree', (seed) => {
    const rnd = prng(seed);
    for (let c = 0; c < 40; c++) {
      const routes = Array.from({ length: 1 + Math.floor(rnd() * 40) }, (_, i) => randomRoute(rnd, i));
      const router = new Router(routes, [service('svc')], { cacheSize: 64 });
      for (let q = 0; q < 60; q++) {
        const req = request({
          method: pick(rnd, ['GET', 'POST']),
          host: pick(rnd, REQ_HOSTS),
          port: pick(rnd, [80, 8080]),
          path: pick(rnd, REQ_PATHS),
          headers: pick(rnd, REQ_HEADERS),
        });
        const got = router.match(req);
        const want = oracle(routes, req);
        const summary = got === null ? null : { name: got.route.name, matchedPath: got.matchedPath };
        if (JSON.stringify(summary) !== JSON.stringify(want)) {
          throw new Error(`seed ${seed} config ${c}: ${JSON.stringify(req)}\nroutes ${JSON.stringify(routes.map((r) => [r.name, r.paths, r.hosts, r.methods, r.headers, r.regex_priority]))}\ngot ${JSON.stringify(summary)} want ${JSON.stringify(want)}`);
        }
        expect(summary).toEqual(want);
      }
    }
  });
});
