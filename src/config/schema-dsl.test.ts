import { describe, expect, it } from 'vitest';
import {
  any,
  array,
  boolean,
  forbidden,
  formatPath,
  integer,
  map,
  number,
  record,
  set,
  string,
  validate,
  type Infer,
} from './schema-dsl.js';

const server = record(
  {
    host: string({ required: true }),
    port: integer({ default: 80, between: [0, 65535] }),
    weight: number({ between: [0, 1] }),
    mode: string({ one_of: ['fast', 'safe'], default: 'safe' }),
    tags: set(string(), { default: [] }),
    aliases: array(string({ pattern: /^[a-z]+$/ }), { len_max: 2 }),
    labels: map(string({ pattern: /^[a-z]+$/, pattern_err: 'bad label' }), string()),
    tls: record({ verify: boolean({ default: true }), depth: integer({ default: 1 }) }, { required: true }),
  },
  { checks: [{ mutually_exclusive: ['weight', 'aliases'] }] },
);

describe('validate', () => {
  it('applies defaults, fills required records, and leaves the input untouched', () => {
    const input = { host: 'a' };
    const r = validate(server, input);
    expect(r).toEqual({
      ok: true,
      issues: [],
      value: { host: 'a', port: 80, weight: null, mode: 'safe', tags: [], aliases: null, labels: null, tls: { verify: true, depth: 1 } },
    });
    expect(input).toEqual({ host: 'a' });
    // defaults are copies: changing one result does not leak into the next
    (r.value!.tags as string[]).push('x');
    expect(validate(server, { host: 'b' }).value!.tags).toEqual([]);
  });

  it('collects every issue with its path, in Kong words', () => {
    const r = validate(server, { port: 70000, weight: 'heavy', mode: 'quick', tags: [1], aliases: ['ok', 'NO', 'x'], labels: { Bad: 'x' }, extra: true, tls: { depth: 1.5 } });
    expect(r.issues).toEqual([
      { path: ['extra'], message: 'unknown field', at: 'key' },
      { path: ['host'], message: 'required field missing' },
      { path: ['port'], message: 'value should be between 0 and 65535' },
      { path: ['weight'], message: 'expected a number' },
      { path: ['mode'], message: 'expected one of: fast, safe' },
      { path: ['tags', 0], message: 'expected a string' },
      { path: ['aliases'], message: 'length must be at most 2' },
      { path: ['labels', 'Bad'], message: 'bad label', at: 'key' },
      { path: ['tls', 'depth'], message: 'expected an integer' },
    ]);
    expect(r.ok).toBe(false);
  });

  it('rejects empty strings unless len_min allows them, as Kong does', () => {
    expect(validate(string(), '').issues).toEqual([{ path: [], message: 'length must be at least 1' }]);
    expect(validate(string({ len_min: 0 }), '')).toMatchObject({ ok: true, value: '' });
  });

  it('treats an explicit null like an absent field', () => {
    expect(validate(server, { host: 'a', port: null }).value!.port).toBe(80);
    expect(validate(server, { host: null }).issues).toEqual([{ path: ['host'], message: 'required field missing' }]);
  });

  it('drops repeated elements of a set but not of an array', () => {
    expect(validate(set(string()), ['a', 'b', 'a']).value).toEqual(['a', 'b']);
    expect(validate(array(string()), ['a', 'a']).value).toEqual(['a', 'a']);
  });

  it('runs entity checks only on records whose fields are valid', () => {
    expect(validate(server, { host: 'a', weight: 0.5, aliases: ['x'] }).issues).toEqual([
      { path: [], message: "only one or none of these fields must be set: 'weight', 'aliases'" },
    ]);
    // with a broken field, the check would only add noise
    expect(validate(server, { host: 'a', port: -1, weight: 0.5, aliases: ['x'] }).issues).toHaveLength(1);
  });

  it('supports at_least_one_of, only_one_of, mutually_required and custom checks blaming a field', () => {
    const s = record(
      { a: string(), b: string(), c: integer(), d: integer() },
      {
        checks: [
          { at_least_one_of: ['a', 'b'] },
          { only_one_of: ['c', 'd'] },
          { mutually_required: ['a', 'd'] },
          { custom: (v) => (v.b === 'bad' ? { field: 'b', message: 'b is bad' } : undefined) },
        ],
      },
    );
    expect(validate(s, { c: 1 }).issues.map((i) => i.message)).toEqual(["at least one of these fields must be non-empty: 'a', 'b'"]);
    expect(validate(s, { a: 'x', c: 1, d: 2 }).issues.map((i) => i.message)).toEqual(["exactly one of these fields must be non-empty: 'c', 'd'"]);
    expect(validate(s, { a: 'x', c: 1 }).issues.map((i) => i.message)).toEqual(["all or none of these fields must be set: 'a', 'd'"]);
    expect(validate(s, { b: 'bad', c: 1 }).issues).toEqual([{ path: ['b'], message: 'b is bad' }]);
  });

  it('expands shorthands and blames the shorthand for what it produced', () => {
    const s = record(
      { host: string({ required: true }), port: integer({ between: [1, 9] }) },
      {
        shorthands: {
          addr: {
            fields: ['host', 'port'],
            expand: (v) => {
              if (typeof v !== 'string' || !v.includes(':')) return 'expected host:port';
              const [host, port] = v.split(':');
              return { host, port: Number(port) };
            },
          },
        },
      },
    );
    expect(validate(s, { addr: 'a:5' }).value).toEqual({ host: 'a', port: 5 });
    expect(validate(s, { addr: 'a:50' }).issues).toEqual([{ path: ['addr'], message: 'port: value should be between 1 and 9' }]);
    // a failed shorthand does not also report the fields it stands for as missing
    expect(validate(s, { addr: 'nope' }).issues).toEqual([{ path: ['addr'], message: 'expected host:port' }]);
    expect(validate(s, { addr: 'a:5', host: 'b' }).issues).toEqual([{ path: ['addr'], message: "cannot be combined with 'host'" }]);
  });

  it('chooses fields by a subschema (how plugin configs depend on the plugin name)', () => {
    const s = record(
      { kind: string({ required: true }), config: any() },
      {
        subschema: (raw) =>
          raw.kind === 'timer'
            ? { fields: { config: record({ seconds: integer({ default: 5 }) }, { required: true }) } }
            : { error: { field: 'kind', message: `kind '${String(raw.kind)}' is not installed` } },
      },
    );
    expect(validate(s, { kind: 'timer' }).value).toEqual({ kind: 'timer', config: { seconds: 5 } });
    expect(validate(s, { kind: 'other', config: 1 }).issues).toEqual([{ path: ['kind'], message: "kind 'other' is not installed" }]);
  });

  it('refuses forbidden fields with their own message', () => {
    const s = record({ service: forbidden('set by nesting') });
    expect(validate(s, {}).ok).toBe(true);
    expect(validate(s, { service: 'x' }).issues).toEqual([{ path: ['service'], message: 'set by nesting' }]);
  });

  it('treats keys that exist on Object.prototype like any other key', () => {
    const input = JSON.parse('{"host": "a", "constructor": 1, "__proto__": {"port": 1}}');
    expect(validate(server, input).issues.map((i) => i.path)).toEqual([['constructor'], ['__proto__']]);
    const headers = validate(map(string(), string()), JSON.parse('{"__proto__": "x"}')).value!;
    expect(Object.keys(headers)).toEqual(['__proto__']);
  });

  it('prefixes issues with the given path', () => {
    expect(validate(integer(), 'x', { path: ['plugins', 2, 'config', 'n'] }).issues[0]!.path).toEqual(['plugins', 2, 'config', 'n']);
  });
});

describe('vault references', () => {
  const s = record({ secret: string({ referenceable: true, len_min: 8 }), plain: string() });
  const resolveReference = (ref: string) => (ref === '{vault://env/pw}' ? { value: 'long-enough-secret' } : ref === '{vault://env/short}' ? { value: 'abc' } : { error: `cannot resolve ${ref}` });

  it('resolve only in referenceable fields', () => {
    expect(validate(s, { secret: '{vault://env/pw}' }, { resolveReference }).value!.secret).toBe('long-enough-secret');
    expect(validate(s, { plain: '{vault://env/pw}' }, { resolveReference }).issues).toEqual([
      { path: ['plain'], message: "vault reference '{vault://env/pw}' is not allowed here: this field is not referenceable" },
    ]);
  });

  it('stay as written without a resolver (a plugin schema checked on its own)', () => {
    expect(validate(s, { secret: '{vault://env/pw}' }).value!.secret).toBe('{vault://env/pw}');
  });

  it('are validated after resolution without echoing the secret', () => {
    const r = validate(record({ s: string({ referenceable: true, one_of: ['x'] }) }), { s: '{vault://env/short}' }, { resolveReference });
    expect(r.issues[0]!.message).toBe("the value of vault reference '{vault://env/short}' is invalid: expected one of: x");
    const m = validate(record({ s: string({ referenceable: true, pattern: /^\d+$/ }) }), { s: '{vault://env/short}' }, { resolveReference });
    expect(m.issues[0]!.message).not.toContain('abc');
  });

  it('report resolver errors at the field', () => {
    expect(validate(s, { secret: '{vault://env/nope}' }, { resolveReference }).issues).toEqual([{ path: ['secret'], message: 'cannot resolve {vault://env/nope}' }]);
  });
});

describe('types', () => {
  it('infers required, defaulted and optional fields', () => {
    type Server = Infer<typeof server>;
    const v: Server = validate(server, { host: 'h' }).value!;
    const port: number = v.port;
    const mode: 'fast' | 'safe' = v.mode;
    const weight: number | null = v.weight;
    const verify: boolean = v.tls.verify;
    expect([port, mode, weight, verify]).toEqual([80, 'safe', null, true]);
  });
});

describe('formatPath', () => {
  it('writes paths the way a user reads them', () => {
    expect(formatPath(['services', 0, 'routes', 1, 'headers', 'x-api-version', 0])).toBe('services[0].routes[1].headers["x-api-version"][0]');
    expect(formatPath([])).toBe('');
  });
});
