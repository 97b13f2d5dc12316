import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { orderDocument, ORDERS_OPENAPI } from './json-doc.js';

function orderBatchValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(ORDERS_OPENAPI, 'spec');
  return ajv.getSchema('spec#/components/schemas/OrderBatch')!;
}

/** Deepest nesting of objects and arrays. */
function depth(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depth));
  if (typeof v === 'object' && v !== null) return 1 + Math.max(0, ...Object.values(v).map(depth));
  return 0;
}

describe('orderDocument', () => {
  it('is exactly the asked size and valid against the OpenAPI schema the protected scenarios use', () => {
    const validate = orderBatchValidator();
    for (const bytes of [600, 1000, 4097, 64 * 1024, 1024 * 1024]) {
      const doc = orderDocument(bytes);
      expect(Buffer.byteLength(doc)).toBe(bytes);
      const parsed = JSON.parse(doc) as { orders: unknown[]; padding: string };
      expect(validate(parsed), JSON.stringify(validate.errors)).toBe(true);
      expect(parsed.padding.length).toBeLessThanOrEqual(1000);
    }
  });

  it('is a real document: many orders, nesting, and within the json-threat-protection limits', () => {
    const parsed = JSON.parse(orderDocument(64 * 1024)) as { orders: Record<string, unknown>[] };
    expect(parsed.orders.length).toBeGreaterThan(100);
    expect(depth(parsed)).toBe(5);
    expect(parsed.orders.length).toBeLessThanOrEqual(10_000);
    expect(JSON.parse(orderDocument(1024 * 1024)).orders.length).toBeLessThanOrEqual(10_000);
  });

  it('the schema constrains the document: a bad SKU, an e-mail that is not one, an unknown field all fail', () => {
    const validate = orderBatchValidator();
    const good = JSON.parse(orderDocument(4096)) as { orders: Record<string, any>[] };
    const badSku = structuredClone(good);
    badSku.orders[1]!.items[0].sku = 'SKU-12';
    const badEmail = structuredClone(good);
    badEmail.orders[0]!.customer.email = 'not-an-email';
    const extra = structuredClone(good);
    extra.orders[2]!.surprise = true;
    for (const bad of [badSku, badEmail, extra]) expect(validate(bad)).toBe(false);
  });

  it('refuses a size too small to hold a document', () => {
    expect(() => orderDocument(10)).toThrow(/at least/);
    expect(() => orderDocument(200)).toThrow(/at least/);
  });
});
