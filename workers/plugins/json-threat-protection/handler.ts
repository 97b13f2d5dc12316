/**
 * json-threat-protection (Kong Enterprise, PRIORITY 1009): checks the JSON body of POST, PUT
 * and PATCH requests against structural limits while it streams (json-scanner.ts), and
 * refuses it at the first violation with the configured status and message, before the
 * upstream has received the whole body; or, in log_only mode, logs the violation and lets
 * the request through.
 *
 * - Which requests: POST, PUT and PATCH (Kong 3.10+), whatever their Content-Type (Kong),
 *   unless allow_non_json_requests lets a declared non-JSON Content-Type through.
 * - max_body_size: a Content-Length over it is refused before a byte of the body is read;
 *   a chunked body is counted as it streams (Kong refuses any request without a
 *   Content-Length instead).
 * - No body (or an empty one): nothing to check, the request goes on.
 */
import { ScannerInspector } from '../../http/body-inspection.js';
import type { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { CompiledJsonLimits, JsonScanner, type JsonViolation } from './json-scanner.js';
import type { JsonThreatProtectionConfig } from './schema.js';

const CHECKED_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Kong's -1 (unlimited) as a bound the scanner compares against. */
function limit(value: number): number {
  return value < 0 ? Infinity : value;
}

/**
 * A JSON media type: `application/json`, any `.../json` or `...+json` (merge-patch, problem,
 * vnd.api...), parameters ignored. An absent Content-Type counts as JSON: an upstream may
 * parse an undeclared body as JSON, so it is checked.
 */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return true;
  const semi = value.indexOf(';');
  const mt = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  if (mt === '') return true;
  const slash = mt.indexOf('/');
  if (slash < 0) return false;
  const sub = mt.slice(slash + 1);
  return sub === 'json' || sub.endsWith('+json');
}

/** What every request of one plugin instance shares: compiled limits, the reply, the log. */
class Policy {
  readonly limits: CompiledJsonLimits;
  readonly reply: LocalReply;
  readonly logOnly: boolean;

  constructor(
    conf: JsonThreatProtectionConfig,
    private readonly log: PluginEnv['log'],
  ) {
    this.limits = new CompiledJsonLimits({
      maxBodySize: limit(conf.max_body_size),
      maxContainerDepth: limit(conf.max_container_depth),
      maxArrayElementCount: limit(conf.max_array_element_count),
      maxObjectEntryCount: limit(conf.max_object_entry_count),
      maxObjectEntryNameLength: limit(conf.max_object_entry_name_length),
      maxStringValueLength: limit(conf.max_string_value_length),
      allowDuplicateObjectEntryName: conf.allow_duplicate_object_entry_name,
      forbiddenObjectEntryNames: conf.forbidden_object_entry_names,
    });
    this.reply = Object.freeze({ status: conf.error_status_code, message: conf.error_message });
    this.logOnly = conf.enforcement_mode === 'log_only';
  }

  /**
   * A violation: logged (what rule, where; never body content), then the verdict. The rule
   * is a config field name; the detail names the limit or the syntax error, or for a
   * forbidden entry name the configured name it matched.
   */
  violated(v: JsonViolation, requestId: string): Verdict {
    const entry = { request_id: requestId, rule: v.rule, detail: v.detail, offset: v.offset, depth: v.depth, enforcement_mode: this.logOnly ? 'log_only' : 'block' };
    if (this.logOnly) {
      this.log.warn(entry, 'json-threat-protection: request body violates the policy (log_only: let through)');
      return undefined;
    }
    this.log.info(entry, 'json-threat-protection: request body refused');
    return this.reply;
  }
}


export function createJsonThreatProtection(conf: JsonThreatProtectionConfig, env: Pick<PluginEnv, 'log'>): PluginHandler {
  const policy = new Policy(conf, env.log);
  const checkContentType = conf.allow_non_json_requests;
  const maxBodySize = policy.limits.maxBodySize;
  return {
    access(ctx: RequestContext): Verdict {
      if (!CHECKED_METHODS.has(ctx.method)) return undefined;
      if (checkContentType && !isJsonContentType(ctx.headers['content-type'])) return undefined;
      const ds = ctx.downstream;
      if (ctx.body === null && ds !== null && ds.contentLength > maxBodySize) {
        // Announced too large: refused before reading (Kong compares Content-Length too).
        return policy.violated({ rule: 'max_body_size', detail: `Content-Length ${ds.contentLength} over ${maxBodySize} bytes`, offset: 0, depth: 0 }, ctx.id);
      }
      return ctx.inspectRequestBody(new ScannerInspector(new JsonScanner(policy.limits), policy, ctx.id, (detail) => ({ rule: 'internal_error', detail, offset: 0, depth: 0 })));
    },
  };
}
