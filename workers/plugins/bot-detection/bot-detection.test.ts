/**
 * bot-detection: config through the real loader (allow/deny default to [], regexes that
 * RE2 cannot compile refused with their position), the handler through a RequestContext
 * (allow -> deny -> built-in list, 400 on a repeated User-Agent, no User-Agent passes, the
 * verdict cache), the built-in list against real-world crawler, tool and browser agents,
 * and its place first in a compiled chain. Kong sources:
 * kong/plugins/bot-detection/{schema,handler,rules}.lua.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { ConsumerIndex } from '../../auth/consumer-index.js';
import { RequestContext } from '../../http/request-context.js';
import { compilePipelines } from '../../pipeline/compile.js';
import { runAccess } from '../../pipeline/run.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { BOT_PATTERNS } from './bots.js';
import { DUPLICATE_MESSAGE, isKnownBot, strip, UA_CACHE_MAX_ENTRY, UA_CACHE_SIZE } from './handler.js';
import { botDetection } from './index.js';
import type { BotDetectionConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';

function load(text: string): GatewayConfig {
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

function issues(text: string): string[] {
  const r = loadConfigText(text, 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`);
}

const env = { workerId: 0, log: { info() {}, warn() {}, error() {} }, consumers: new ConsumerIndex([]) } as unknown as PluginEnv;

function configOf(conf: string | null): BotDetectionConfig {
  const text = conf === null ? `${HEAD}plugins:\n  - name: bot-detection\n` : `${HEAD}plugins:\n  - name: bot-detection\n    config: ${conf}\n`;
  return load(text).plugins[0]!.config as BotDetectionConfig;
}

function handlerFor(conf: string | null): PluginHandler {
  return botDetection.create(configOf(conf), env);
}

function request(userAgent?: string, repeated = false): RequestContext {
  const headers: Record<string, string> = { host: 'a.test' };
  if (userAgent !== undefined) headers['user-agent'] = userAgent;
  return new RequestContext('0123456789abcdef0123456789abcdef', 'GET', '/', '', headers, repeated ? ['user-agent'] : null, 'a.test', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
}

function access(h: PluginHandler, ctx: RequestContext): Verdict {
  const v = h.access!(ctx);
  if (v instanceof Promise) throw new Error('bot-detection must answer synchronously');
  return v;
}

const FORBIDDEN: LocalReply = { status: 403, message: 'Forbidden' };

/** Agents the built-in list must reject: crawlers, previewers, monitors, scanners, Kong's bot libraries. */
const BOTS = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Googlebot-Image/1.0',
  'AdsBot-Google (+http://www.google.com/adsbot.html)',
  'Mediapartners-Google',
  'APIs-Google (+https://developers.google.com/webmasters/APIs-Google.html)',
  'FeedFetcher-Google; (+http://www.google.com/feedfetcher.html)',
  'Mozilla/5.0 (compatible; Google-InspectionTool/1.0)',
  'GoogleOther',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.1938.76 Safari/537.36 Edg/116.0.1938.76 BingPreview/1.0b',
  'msnbot/2.0b (+http://search.msn.com/msnbot.htm)',
  'Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)',
  'Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)',
  'Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)',
  'Mozilla/5.0 (compatible; YandexImages/3.0; +http://yandex.com/bots)',
  'DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)',
  'Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)',
  'Mozilla/5.0 (compatible; Yeti/1.1; +http://naver.me/spd)',
  'Mozilla/5.0 (compatible; SeznamBot/4.0; +https://o-seznam.cz/napoveda/vyhledavani/en/seznambot-crawler/)',
  'Mozilla/5.0 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)',
  'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  'meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)',
  'Twitterbot/1.0',
  'LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)',
  'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
  'TelegramBot (like TwitterBot)',
  'Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)',
  'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ChatGPT-User/1.0; +https://openai.com/bot)',
  'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)',
  'CCBot/2.0 (https://commoncrawl.org/faq/)',
  'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)',
  'Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)',
  'Mozilla/5.0 (compatible; Amazonbot/0.1; +https://developer.amazon.com/support/amazonbot)',
  'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)',
  'Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)',
  'Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)',
  'Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot; help@moz.com)',
  'Mozilla/5.0 (compatible; Barkrowler/0.9; +https://babbar.tech/crawler)',
  'Screaming Frog SEO Spider/19.0',
  'ia_archiver (+http://www.alexa.com/site/help/webmasters; crawler@alexa.com)',
  'Mozilla/5.0 (compatible; archive.org_bot +http://archive.org/details/archive.org_bot)',
  'Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)',
  'Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)',
  'Scrapy/2.11.0 (+https://scrapy.org)',
  'Apache-Nutch/1.19',
  'Mozilla/5.0 (compatible; heritrix/3.4.0 +http://example.org)',
  'colly - https://github.com/gocolly/colly',
  'Python-urllib/3.11',
  'Apache-HttpClient/4.5.14 (Java/17.0.8)',
  'Google-HTTP-Java-Client/1.42.3 (gzip)',
  'Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)',
  'sqlmap/1.7.2#stable (https://sqlmap.org)',
  'Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)',
  'WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)',
  'gobuster/3.6',
  'WhatWeb/0.5.5',
  'some-company-crawler/1.0',
  'AcmeScraper 2.1',
];

/** Agents it must let through: browsers on every platform, and API clients and probes (Kong lets these through too). */
const HUMANS_AND_CLIENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (X11; Ubuntu; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 13; Pixel 7 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 11; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 9; Cubot P30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 YaBrowser/24.4.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0',
  'Mozilla/5.0 (Linux; U; Android 10; zh-cn; MI 9 Build/QKQ1.190825.002) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/89.0.4389.116 Mobile Safari/537.36 XiaoMi/MiuiBrowser/16.0.18',
  'Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)',
  'curl/8.5.0',
  'Wget/1.21.4',
  'python-requests/2.31.0',
  'Go-http-client/1.1',
  'okhttp/4.12.0',
  'axios/1.6.8',
  'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)',
  'PostmanRuntime/7.37.3',
  'kube-probe/1.29',
  'ELB-HealthChecker/2.0',
  'GoogleHC/1.0',
  'Prometheus/2.51.0',
  'Both ends of a bottle',
  '',
];

describe('bot-detection config', () => {
  it('defaults allow and deny to empty lists (Kong)', () => {
    expect(configOf(null)).toEqual({ allow: [], deny: [] });
  });

  it('takes RE2 regexes', () => {
    expect(configOf('{ allow: ["^MyMonitor/\\\\d+"], deny: ["(?i)evil", "^$"] }')).toEqual({ allow: ['^MyMonitor/\\d+'], deny: ['(?i)evil', '^$'] });
  });

  it('refuses regexes RE2 cannot compile, each at its position, with the reason', () => {
    const text = `${HEAD}plugins:
  - name: bot-detection
    config:
      allow:
        - "(https?:\\\\/\\\\/.*"
      deny:
        - "fine"
        - "^(?!Mozilla)"
        - "(a)\\\\1"
        - ""
`;
    expect(issues(text)).toEqual([
      '6:11 plugins[0].config.allow[0]: not a valid regex: (https?:\\/\\/.* (RE2 returned: missing ): (https?:\\/\\/.*)',
      '9:11 plugins[0].config.deny[1]: not a valid regex: ^(?!Mozilla) (RE2 returned: invalid perl operator: (?!; lookaround and backreferences are not supported)',
      '10:11 plugins[0].config.deny[2]: not a valid regex: (a)\\1 (RE2 returned: invalid escape sequence: \\1; lookaround and backreferences are not supported)',
      '11:11 plugins[0].config.deny[3]: length must be at least 1',
    ]);
  });

  it('cannot be scoped to a consumer (Kong no_consumer)', () => {
    expect(issues(`${HEAD}consumers:\n  - username: alice\n    plugins:\n      - name: bot-detection\n`)).toEqual([
      "5:15 consumers[0].plugins[0].name: plugin 'bot-detection' cannot be applied to a consumer",
    ]);
  });

  it('has the same priority in both registries (Kong 2500)', () => {
    expect(botDetection.priority).toBe(2500);
    expect(pluginSchemas.get('bot-detection')?.priority).toBe(2500);
    expect(pluginDefinitions.get('bot-detection')).toBe(botDetection);
  });
});

describe('the built-in list', () => {
  it('compiles every pattern on its own with RE2 (so a broken one is named)', async () => {
    const { default: RE2 } = await import('re2');
    for (const p of BOT_PATTERNS) expect(() => new RE2(p), p).not.toThrow();
  });

  it.each(BOTS)('rejects %s', (ua) => {
    expect(isKnownBot(ua)).toBe(true);
  });

  it.each(HUMANS_AND_CLIENTS)('lets through %j', (ua) => {
    expect(isKnownBot(ua)).toBe(false);
  });
});

describe('bot-detection handler', () => {
  it('lets requests without a User-Agent through', () => {
    expect(access(handlerFor(null), request())).toBeUndefined();
  });

  it('answers 400 "Only one User-Agent header allowed" for a repeated User-Agent, even a harmless one', () => {
    expect(access(handlerFor(null), request('curl/8.5.0, curl/8.5.0', true))).toEqual({ status: 400, message: DUPLICATE_MESSAGE });
    expect(access(handlerFor('{ allow: [".*"] }'), request('a, b', true))).toEqual({ status: 400, message: DUPLICATE_MESSAGE });
  });

  it('rejects a known bot with 403 "Forbidden" and lets a browser through', () => {
    const h = handlerFor(null);
    expect(access(h, request('Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'))).toEqual(FORBIDDEN);
    expect(access(h, request(HUMANS_AND_CLIENTS[0]))).toBeUndefined();
  });

  it('allow wins over deny and over the built-in list', () => {
    const h = handlerFor('{ allow: ["Googlebot", "^Internal"], deny: ["^Internal"] }');
    expect(access(h, request('Mozilla/5.0 (compatible; Googlebot/2.1)'))).toBeUndefined();
    expect(access(h, request('Internal-Tool/1.0'))).toBeUndefined();
    expect(access(h, request('Mozilla/5.0 (compatible; bingbot/2.0)'))).toEqual(FORBIDDEN);
  });

  it('deny rejects what the built-in list would let through', () => {
    const h = handlerFor('{ deny: ["^curl/", "(?i)python-requests"] }');
    expect(access(h, request('curl/8.5.0'))).toEqual(FORBIDDEN);
    expect(access(h, request('Python-Requests/2.31'))).toEqual(FORBIDDEN);
    expect(access(h, request('Wget/1.21.4'))).toBeUndefined();
  });

  it('matches case-sensitively unless the pattern says otherwise (Kong: PCRE without the i flag)', () => {
    const h = handlerFor('{ deny: ["BadClient"] }');
    expect(access(h, request('BadClient/1.0'))).toEqual(FORBIDDEN);
    expect(access(h, request('badclient/1.0'))).toBeUndefined();
  });

  it('strips surrounding whitespace before matching (Kong utils.strip), so anchors see the value', () => {
    const h = handlerFor('{ deny: ["^Evil/1$"] }');
    expect(access(h, request(' \tEvil/1 '))).toEqual(FORBIDDEN);
    expect(strip(' \t\r\n\v\fx y\t ')).toBe('x y');
    expect(strip('\u00a0x')).toBe('\u00a0x');
    expect(strip('   ')).toBe('');
  });

  it('an empty User-Agent is examined like any other (only user patterns can match it)', () => {
    expect(access(handlerFor(null), request(''))).toBeUndefined();
    expect(access(handlerFor('{ deny: ["^$"] }'), request(''))).toEqual(FORBIDDEN);
  });

  it('keeps verdicts per instance: another instance with other lists decides on its own', () => {
    const open = handlerFor('{ allow: ["Googlebot"] }');
    const strict = handlerFor(null);
    const ua = 'Mozilla/5.0 (compatible; Googlebot/2.1)';
    expect(access(open, request(ua))).toBeUndefined();
    expect(access(strict, request(ua))).toEqual(FORBIDDEN);
    expect(access(open, request(ua))).toBeUndefined();
  });

  it('stays correct past the cache size, and for agents too long to cache', () => {
    const h = handlerFor('{ deny: ["^Deny"] }');
    for (let i = 0; i < UA_CACHE_SIZE + 10; i++) {
      expect(access(h, request(`Mozilla/5.0 client-${i}`))).toBeUndefined();
    }
    expect(access(h, request('Deny/1'))).toEqual(FORBIDDEN);
    const long = `Deny/${'x'.repeat(UA_CACHE_MAX_ENTRY * 2)}`;
    expect(access(h, request(long))).toEqual(FORBIDDEN);
    expect(access(h, request(long))).toEqual(FORBIDDEN);
    const longBot = `${'x'.repeat(UA_CACHE_MAX_ENTRY * 2)} Googlebot/2.1`;
    expect(access(h, request(longBot))).toEqual(FORBIDDEN);
  });

  it('answers with shared frozen replies (nothing allocated per rejection)', () => {
    const h = handlerFor(null);
    const a = access(h, request('Googlebot/2.1'));
    const b = access(h, request('bingbot/2.0'));
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
  });
});

describe('bot-detection in a compiled chain', () => {
  const text = `${HEAD}consumers:
  - username: alice
    keyauth_credentials:
      - key: alice-key
services:
  - name: s
    url: http://upstream.test
    routes:
      - name: r
        paths: [/]
        plugins:
          - name: key-auth
          - name: ip-restriction
            config: { deny: [10.0.0.7] }
          - name: bot-detection
`;
  const c = load(text);
  const index = new ConsumerIndex(c.consumers);
  const pipelines = compilePipelines(c, pluginDefinitions, () => ({ workerId: 0, log: { info() {}, warn() {}, error() {} }, consumers: index }) as PluginEnv);
  const chain = pipelines.forRoute(c.routes[0]!);

  it('runs first (2500, before key-auth 1250 and ip-restriction 990): a bot is refused before any credential lookup', () => {
    expect(runAccess(chain, request('Googlebot/2.1'))).toEqual(FORBIDDEN);
    expect(runAccess(chain, request('Googlebot/2.1', true))).toEqual({ status: 400, message: DUPLICATE_MESSAGE });
    expect((runAccess(chain, request('curl/8.5.0')) as LocalReply).status).toBe(401);
  });
});
