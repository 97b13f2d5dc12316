/**
 * The large JSON request body of the json-* scenarios: a batch of orders (objects nested four
 * deep, arrays, numbers, strings, an e-mail) of EXACTLY the asked size, and the OpenAPI 3.0 spec
 * that describes it, for the oas-validation plugin. The document is what a real API receives, not
 * one long string, so a validator or a threat scan has real structure to walk.
 */

function order(i: number): Record<string, unknown> {
  const items = [0, 1, 2].map((j) => ({
    sku: `SKU-${String((i * 3 + j) % 100_000).padStart(5, '0')}`,
    qty: 1 + ((i + j) % 9),
    price: Math.round((5 + ((i * 7 + j * 13) % 200) + 0.99) * 100) / 100,
  }));
  return {
    id: i + 1,
    customer: { name: `Customer ${i + 1}`, email: `customer${i + 1}@example.com`, tier: ['bronze', 'silver', 'gold'][i % 3] },
    items,
    shipping: { street: `${(i % 900) + 100} Main Street`, city: 'Springfield', zip: String(10_000 + (i % 89_999)), country: 'US' },
    note: 'Leave at the front door and ring twice.',
  };
}

/** Padding strings stay under this (json-threat-protection's max_string_value_length below is 1024). */
const MAX_PADDING = 1000;

/** A valid order batch (see ORDERS_OPENAPI) of exactly `bytes` bytes of UTF-8 (all ASCII). */
export function orderDocument(bytes: number): string {
  const head = '{"orders":[';
  const tail = (pad: number): string => `],"padding":"${'x'.repeat(pad)}"}`;
  const minimum = head.length + tail(0).length;
  if (bytes < minimum) throw new Error(`an order document needs at least ${minimum} bytes, asked for ${bytes}`);
  const parts: string[] = [];
  let length = minimum;
  for (let i = 0; ; i++) {
    const next = JSON.stringify(order(i));
    const add = next.length + (parts.length > 0 ? 1 : 0);
    if (length + add > bytes) break;
    parts.push(next);
    length += add;
  }
  if (parts.length === 0) throw new Error(`an order document needs at least ${minimum + JSON.stringify(order(0)).length} bytes, asked for ${bytes}`);
  const pad = bytes - length;
  if (pad > MAX_PADDING) throw new Error(`internal: padding of ${pad} bytes for a ${bytes}-byte document`);
  return head + parts.join(',') + tail(pad);
}

/** The OpenAPI 3.0 description of POST /orders with an order batch body. */
export const ORDERS_OPENAPI = {
  openapi: '3.0.3',
  info: { title: 'Portcullis bench: orders', version: '1.0.0' },
  paths: {
    '/orders': {
      post: {
        operationId: 'createOrders',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/OrderBatch' } } } },
        responses: { '200': { description: 'accepted' } },
      },
    },
  },
  components: {
    schemas: {
      OrderBatch: {
        type: 'object',
        required: ['orders'],
        additionalProperties: false,
        properties: {
          orders: { type: 'array', minItems: 1, maxItems: 10_000, items: { $ref: '#/components/schemas/Order' } },
          padding: { type: 'string', maxLength: 1024 },
        },
      },
      Order: {
        type: 'object',
        required: ['id', 'customer', 'items'],
        additionalProperties: false,
        properties: {
          id: { type: 'integer', minimum: 1 },
          customer: {
            type: 'object',
            required: ['name', 'email'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 200 },
              email: { type: 'string', format: 'email' },
              tier: { type: 'string', enum: ['bronze', 'silver', 'gold'] },
            },
          },
          items: { type: 'array', minItems: 1, maxItems: 100, items: { $ref: '#/components/schemas/Item' } },
          shipping: { $ref: '#/components/schemas/Address' },
          note: { type: 'string', maxLength: 500 },
        },
      },
      Item: {
        type: 'object',
        required: ['sku', 'qty', 'price'],
        additionalProperties: false,
        properties: {
          sku: { type: 'string', pattern: '^SKU-[0-9]{5}$' },
          qty: { type: 'integer', minimum: 1, maximum: 1000 },
          price: { type: 'number', minimum: 0 },
        },
      },
      Address: {
        type: 'object',
        required: ['street', 'city', 'country'],
        additionalProperties: false,
        properties: {
          street: { type: 'string', maxLength: 200 },
          city: { type: 'string', maxLength: 100 },
          zip: { type: 'string', maxLength: 20 },
          country: { type: 'string', minLength: 2, maxLength: 2 },
        },
      },
    },
  },
} as const;

/**
 * json-threat-protection limits that every order document passes with room to spare (depth 5,
 * at most 5 entries per object, names under 16 bytes, strings under 1 KB), in Kong EE's names.
 */
export function jsonThreatLimits(maxBodyBytes: number): Record<string, unknown> {
  return {
    max_body_size: maxBodyBytes,
    max_container_depth: 10,
    max_object_entry_count: 32,
    max_object_entry_name_length: 64,
    max_array_element_count: 10_000,
    max_string_value_length: 1024,
    enforcement_mode: 'block',
  };
}
