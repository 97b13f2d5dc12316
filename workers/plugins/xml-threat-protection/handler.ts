/**
 * xml-threat-protection (Kong Enterprise, PRIORITY 1008): a request body whose Content-Type is
 * in checked_content_types is checked while it streams (xml-scanner.ts) and refused at the
 * first violation, before the upstream has the whole body; one in allowed_content_types goes
 * through unchecked; any other body is refused with 415. A request without a body is not
 * checked (Kong 3.12). In log_only mode (ours) violations are logged and the request goes on.
 */
import { ScannerInspector } from '../../http/body-inspection.js';
import type { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { MediaTypeList, mediaTypeOf } from './media-type.js';
import type { XmlThreatProtectionConfig } from './schema.js';
import { XmlScanner, type XmlLimits, type XmlViolation } from './xml-scanner.js';

const UNSUPPORTED: LocalReply = Object.freeze({ status: 415, message: 'Unsupported Media Type' });

export function xmlLimits(conf: XmlThreatProtectionConfig): XmlLimits {
  return {
    namespaceAware: conf.namespace_aware,
    allowDtd: conf.allow_dtd,
    maxDepth: conf.max_depth,
    maxChildren: conf.max_children,
    maxAttributes: conf.max_attributes,
    maxNamespaces: conf.max_namespaces,
    localname: conf.localname,
    prefix: conf.prefix,
    namespaceuri: conf.namespaceuri,
    text: conf.text,
    attribute: conf.attribute,
    comment: conf.comment,
    pitarget: conf.pitarget,
    pidata: conf.pidata,
    document: conf.document,
    buffer: conf.buffer,
    entity: conf.entity,
    entityname: conf.entityname,
    entityproperty: conf.entityproperty,
    blaMaxAmplification: conf.bla_max_amplification,
    blaThreshold: conf.bla_threshold,
  };
}

/** What every request of one plugin instance shares. */
class Policy {
  readonly limits: XmlLimits;
  readonly reply: LocalReply;
  readonly logOnly: boolean;

  constructor(
    conf: XmlThreatProtectionConfig,
    private readonly log: PluginEnv['log'],
  ) {
    this.limits = xmlLimits(conf);
    this.reply = Object.freeze({ status: conf.error_status_code, message: conf.error_message });
    this.logOnly = conf.enforcement_mode === 'log_only';
  }

  /** Logs the violation (rule and where, never document content) and returns the verdict. */
  violated(v: XmlViolation, requestId: string, reply: LocalReply = this.reply): Verdict {
    const entry = { request_id: requestId, rule: v.rule, detail: v.detail, offset: v.offset, line: v.line, enforcement_mode: this.logOnly ? 'log_only' : 'block' };
    if (this.logOnly) {
      this.log.warn(entry, 'xml-threat-protection: request body violates the policy (log_only: let through)');
      return undefined;
    }
    this.log.info(entry, 'xml-threat-protection: request body refused');
    return reply;
  }
}


export function createXmlThreatProtection(conf: XmlThreatProtectionConfig, env: Pick<PluginEnv, 'log'>): PluginHandler {
  const policy = new Policy(conf, env.log);
  const checked = new MediaTypeList(conf.checked_content_types);
  const allowed = new MediaTypeList(conf.allowed_content_types);
  const maxDocument = conf.document;
  return {
    access(ctx: RequestContext): Verdict {
      const ds = ctx.downstream;
      const hasBody = ctx.body !== null ? ctx.body.length > 0 : ds !== null && ds.hasBody && ds.contentLength !== 0;
      if (!hasBody) return undefined;
      const mt = mediaTypeOf(ctx.headers['content-type']);
      if (mt === null || !checked.matches(mt)) {
        if (mt !== null && allowed.matches(mt)) return undefined;
        const what = mt === null ? 'no Content-Type' : `Content-Type ${mt.slice(0, 64)} neither checked nor allowed`;
        return policy.violated({ rule: 'content_type', detail: what, offset: 0, line: 0 }, ctx.id, UNSUPPORTED);
      }
      if (ctx.body === null && ds !== null && ds.contentLength > maxDocument) {
        return policy.violated({ rule: 'document', detail: `Content-Length ${ds.contentLength} over ${maxDocument} bytes`, offset: 0, line: 0 }, ctx.id);
      }
      return ctx.inspectRequestBody(new ScannerInspector(new XmlScanner(policy.limits), policy, ctx.id, (detail) => ({ rule: 'internal_error', detail, offset: 0, line: 0 })));
    },
  };
}
