import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_YAML } from './default-config.js';
import { loadConfigText } from './load.js';

describe('the embedded default config', () => {
  it('loads with our own loader: a welcome route and an echo route, no upstream', () => {
    const r = loadConfigText(DEFAULT_CONFIG_YAML, '<embedded default config>', {});
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.services).toEqual([]);
    expect(r.config.routes.map((route) => [route.name, route.paths, route.service])).toEqual([
      ['welcome', ['/'], null],
      ['echo', ['/echo'], null],
    ]);
    const [welcome, echo] = r.config.plugins;
    expect(welcome).toMatchObject({ name: 'request-termination', route: r.config.routes[0]!.id, config: { status_code: 200, message: 'Portcullis is running. Try /echo' } });
    expect(echo).toMatchObject({ name: 'request-termination', route: r.config.routes[1]!.id, config: { status_code: 200, echo: true } });
  });
});
