/**
 * The built-in User-Agent patterns of bot-detection: crawlers, link previewers, archivers,
 * uptime monitors, crawling frameworks, vulnerability scanners and the HTTP client
 * libraries Kong's list also counts as bots. Matched with RE2 (unanchored, case-sensitive
 * unless a pattern says otherwise), after `allow` and `deny`.
 *
 * Written for this project. Sources for the names: the operators' own descriptions of their
 * crawlers and fetchers (Google Search Central "Overview of Google crawlers and fetchers",
 * Bing Webmaster "Which crawlers does Bing use", Yandex "Yandex robots", Baidu spider help,
 * Apple "About Applebot", Meta "Meta web crawlers", OpenAI "Overview of OpenAI crawlers",
 * Anthropic's and Perplexity's crawler pages, Common Crawl's CCBot FAQ, DuckDuckGo's
 * DuckDuckBot page), the default User-Agent strings documented by the tools themselves
 * (Scrapy, Apache Nutch, Heritrix, Nmap NSE, sqlmap, Nikto, WPScan, masscan, zgrab,
 * gobuster), and, for which generic words and client libraries count as bots, the
 * categories of Kong's own list (kong/plugins/bot-detection/rules.lua, itself taken from
 * ua-parser's uap-core). None of Kong's or uap-core's expressions is reproduced here.
 *
 * Deliberately absent, as in Kong: curl, Wget, python-requests, Go-http-client, okhttp,
 * axios, node-fetch, PostmanRuntime, kube-probe and load-balancer health checkers. They
 * are what API clients and probes send; list them in `deny` to refuse them.
 */
export const BOT_PATTERNS: readonly string[] = [
  // Generic words: a product token ending in "bot" (not the CUBOT phone brand), or one
  // containing spider, crawl(er), scrape(r), scrapy, archiver or indexer.
  String.raw`(?:^|[^Uu])[Bb]ot(?:[^a-z]|$)`,
  String.raw`(?:^|[^Cc])[Uu][Bb]ot(?:[^a-z]|$)`,
  String.raw`(?i:spider|crawl|scrap(?:e|er|ing|y)\b|archiver|indexer)`,
  String.raw`(?i:favicon)`,

  // Search engines whose agents do not say "bot".
  String.raw`(?:Mediapartners|APIs|FeedFetcher|DuplexWeb|Storebot)-Google`,
  String.raw`Google(?:-InspectionTool|Other|-Safety|-Site-Verification|-Read-Aloud|-PageRenderer| Favicon|-Structured-Data-Testing-Tool)`,
  String.raw`BingPreview|MicrosoftPreview|Yahoo! Slurp|\bSlurp\b`,
  String.raw`Yandex(?:Images|Metrika|Favicons|Webmaster|Accessibility|Direct|Video|Media|Blogs|News|Market|Pagechecker|Screenshot|Verticals|RenderResources|Additional)`,
  String.raw`\bYeti/|Daumoa|Qwantify|\bSogou\b|Exabot|ichiro/|\bmogimogi\b`,

  // Social networks and chat apps fetching link previews.
  String.raw`facebookexternalhit|facebookcatalog|[Mm]eta-[Ee]xternal(?:[Aa]gent|[Ff]etcher)`,
  String.raw`Slack-ImgProxy|SkypeUriPreview|vkShare|Embedly|[Ii]framely|redditbot|Snap URL Preview`,

  // AI training and answer-engine fetchers that do not say "bot".
  String.raw`ChatGPT-User|Claude-(?:Web|User|SearchBot)|anthropic-ai|Perplexity-User|cohere-ai`,

  // SEO and marketing crawlers.
  String.raw`Barkrowler|MegaIndex\.ru|Siteimprove|NetcraftSurveyAgent`,

  // Archivers.
  String.raw`ia_archiver|archive\.org_bot|\bheritrix\b|Wayback`,

  // Uptime and performance monitors.
  String.raw`Pingdom|GomezAgent|Catchpoint|YottaaMonitor|HttpMonitor|StatusCake|Site24x7`,

  // Crawling frameworks and HTTP libraries counted as bots (Kong's list counts these too).
  String.raw`\bNutch\b|\blarbin\b|grub-client|\bhtdig\b|colly - https?://|WhatWeb`,
  String.raw`Python-urllib|Apache-HttpClient|Google-HTTP-Java-Client|WinHTTP|\bJNLP\b|TLSProber|http%20client`,

  // Vulnerability scanners and discovery tools (their default agents).
  String.raw`Nmap Scripting Engine|\bNikto\b|\bsqlmap/|\bWPScan\b|\bmasscan\b|\bzgrab\b|\bgobuster/|DirBuster|\bWfuzz\b`,
];
