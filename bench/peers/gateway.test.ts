import { describe, expect, it } from 'vitest';
import { gatewayEnv } from './gateway.js';

describe('gatewayEnv', () => {
  it("passes the bench's whole environment through, with the log level at warn unless the caller chose one", () => {
    const env = gatewayEnv({ PATH: '/bin', PORTCULLIS_TRUSTED_IPS: '10.0.0.0/8', PORTCULLIS_CPU_AFFINITY: '1' }, null);
    expect(env).toEqual({ PATH: '/bin', PORTCULLIS_TRUSTED_IPS: '10.0.0.0/8', PORTCULLIS_CPU_AFFINITY: '1', PORTCULLIS_LOG_LEVEL: 'warn' });
    expect(gatewayEnv({ PORTCULLIS_LOG_LEVEL: 'debug' }, null).PORTCULLIS_LOG_LEVEL).toBe('debug');
  });

  it('--cpu-affinity overrides PORTCULLIS_CPU_AFFINITY from the environment', () => {
    expect(gatewayEnv({ PORTCULLIS_CPU_AFFINITY: 'off' }, 'auto').PORTCULLIS_CPU_AFFINITY).toBe('auto');
    expect(gatewayEnv({}, '0,1').PORTCULLIS_CPU_AFFINITY).toBe('0,1');
  });

  it('does not change the environment it was given', () => {
    const base = { A: '1' };
    gatewayEnv(base, 'auto');
    expect(base).toEqual({ A: '1' });
  });
});
