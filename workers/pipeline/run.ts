/**
 * Phase runners. Sync-first: a chain whose handlers all return plain values finishes in
 * the caller's stack with no promise or closure; the first handler that returns a
 * Promise switches the rest of the chain to async from that point on.
 */
import type { RequestContext } from '../http/request-context.js';
import type { Chain } from './compile.js';
import type { MaybePromise, PluginHandler, Verdict } from './types.js';

function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === 'function';
}

/** Runs the rewrite handlers of global plugins (before routing). */
export function runRewrite(handlers: readonly PluginHandler[], ctx: RequestContext, from = 0): MaybePromise<Verdict> {
  for (let i = from; i < handlers.length; i++) {
    const v = (handlers[i] as PluginHandler).rewrite!(ctx);
    if (v === undefined) continue;
    if (isPromise(v)) return v.then((r) => (r !== undefined ? r : runRewrite(handlers, ctx, i + 1)));
    return v;
  }
  return undefined;
}

/**
 * Runs the access phase of a route's chain. With consumer-scoped instances, each slot is
 * resolved against the consumer set so far, and the handlers used are recorded in
 * ctx.plugins for the later phases.
 */
export function runAccess(chain: Chain, ctx: RequestContext, from = 0): MaybePromise<Verdict> {
  const slots = chain.slots;
  if (from === 0) ctx.plugins = chain.consumerScoped ? [] : chain.handlers;
  for (let i = from; i < slots.length; i++) {
    const slot = slots[i]!;
    let h = slot.base;
    if (chain.consumerScoped) {
      if (ctx.consumer !== null && slot.byConsumer !== null) {
        const alt = slot.byConsumer.get(ctx.consumer.id);
        if (alt !== undefined) h = alt;
      }
      if (h !== null) (ctx.plugins as PluginHandler[]).push(h);
    }
    if (h === null || h.access === undefined) continue;
    const v = h.access(ctx);
    if (v === undefined) continue;
    if (isPromise(v)) return v.then((r) => (r !== undefined ? r : runAccess(chain, ctx, i + 1)));
    return v;
  }
  return undefined;
}

export function runHeaderFilter(ctx: RequestContext): void {
  const hs = ctx.plugins;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!;
    if (h.headerFilter !== undefined) h.headerFilter(ctx);
  }
}

export function runBodyFilter(ctx: RequestContext, chunk: Buffer, last: boolean): Buffer {
  const hs = ctx.plugins;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!;
    if (h.bodyFilter !== undefined) chunk = h.bodyFilter(ctx, chunk, last);
  }
  return chunk;
}

/** Log phase: a throwing plugin must not take the worker down or stop the others. */
export function runLog(ctx: RequestContext, onError: (err: unknown) => void): void {
  const hs = ctx.plugins;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!;
    if (h.log === undefined) continue;
    try {
      h.log(ctx);
    } catch (err) {
      onError(err);
    }
  }
}
