/**
 * correlation-id (Kong PRIORITY 100001, first): makes sure every request carries an id in
 * `header_name`, generating one when the client sent none, and optionally echoes it on
 * the response. Generators as in kong/plugins/correlation-id/handler.lua:
 * - uuid: a random UUID per request;
 * - uuid#counter: a random UUID per worker followed by '#' and a per-worker counter
 *   (cheaper, still unique);
 * - tracker: address-port-pid-connection-request-time, as Kong's nginx variables give it.
 */
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../http/request-context.js';
import type { PluginHandler } from '../../pipeline/types.js';
import type { CorrelationIdConfig } from './schema.js';

const WORKER_UUID = randomUUID();
let counter = 0;
let trackerRequests = 0;

function generate(kind: string, ctx: RequestContext): string {
  switch (kind) {
    case 'uuid':
      return randomUUID();
    case 'tracker':
      return `${ctx.clientIp}-${ctx.port}-${process.pid}-${++trackerRequests}-1-${(Date.now() / 1000).toFixed(3)}`;
    default:
      return `${WORKER_UUID}#${++counter}`;
  }
}

export function createCorrelationId(conf: CorrelationIdConfig): PluginHandler {
  const header = conf.header_name.toLowerCase();
  const generator = conf.generator;
  const handler: PluginHandler = {
    access(ctx: RequestContext) {
      if (ctx.headers[header] === undefined || ctx.headers[header] === '') ctx.setHeader(header, generate(generator, ctx));
      return undefined;
    },
  };
  if (conf.echo_downstream) {
    handler.headerFilter = (ctx: RequestContext) => {
      if (ctx.response === null) return;
      // Kong generates one here when access never ran (e.g. the router's 404).
      let value = ctx.headers[header];
      if (value === undefined || value === '') value = generate(generator, ctx);
      ctx.response.headers[header] = value;
    };
  }
  return handler;
}
