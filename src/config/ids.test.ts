import { describe, expect, it } from 'vitest';
import { cacheKey, entityId, uuidv5 } from './ids.js';

describe('ids', () => {
  it('uuidv5 matches the RFC 4122 test vector', () => {
    // uuid5(NAMESPACE_DNS, "www.example.com") from RFC 4122 errata / Python's uuid module
    expect(uuidv5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it("derive from Kong's namespace: uuidv5(uuidv5(root, entity), key)", () => {
    const root = 'fd02801f-0957-4a15-a55a-c8d9606f30b5';
    expect(entityId('services', 'orders')).toBe(uuidv5(uuidv5(root, 'services'), 'orders'));
    // the same key under another entity type is another id
    expect(entityId('routes', 'orders')).not.toBe(entityId('services', 'orders'));
  });

  it('build cache keys as Kong does, empty for unset fields', () => {
    expect(cacheKey('plugins', ['rate-limiting', null, 'svc-id', null])).toBe('plugins:*:rate-limiting::svc-id:');
  });
});
