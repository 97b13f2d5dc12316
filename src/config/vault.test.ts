import { describe, expect, it } from 'vitest';
import { createResolver, envVariableName, parseReference } from './vault.js';

describe('vault references (env vault, Kong rules)', () => {
  it('parse into vault, resource, key, query config and version', () => {
    expect(parseReference('{vault://env/cert/key?prefix=SSL_#1}')).toEqual({ name: 'env', resource: 'cert', key: 'key', config: { prefix: 'SSL_' }, version: 1 });
    expect(parseReference('{vault://env/}')).toEqual({ error: "invalid vault reference '{vault://env/}': the resource is empty" });
    expect(parseReference('{vault://env/x#latest}')).toMatchObject({ error: expect.stringContaining("invalid version 'latest'") });
  });

  it('name variables in upper case with - turned into _, version 2 reading _PREVIOUS', () => {
    expect(envVariableName(null, 'my-api-key', null)).toBe('MY_API_KEY');
    expect(envVariableName('kong_secret_', 'tls-key', 2)).toBe('KONG_SECRET_TLS_KEY_PREVIOUS');
  });

  const env = { DB_PASSWORD: 'pw', DB_PASSWORD_PREVIOUS: 'old', APP_TOKEN: 't', CREDS: '{"user":"u","n":1}', SSL_CERT: 'c' };
  const resolve = createResolver(env, [{ prefix: 'app-vault', name: 'env', config: { prefix: 'APP_' } }]);

  it('resolve from the environment', () => {
    expect(resolve('{vault://env/db-password}', [])).toEqual({ value: 'pw' });
    expect(resolve('{vault://env/db-password#2}', [])).toEqual({ value: 'old' });
    expect(resolve('{vault://app-vault/token}', [])).toEqual({ value: 't' });
    expect(resolve('{vault://env/cert?prefix=SSL_}', [])).toEqual({ value: 'c' });
    expect(resolve('{vault://env/creds/user}', [])).toEqual({ value: 'u' });
  });

  it('explain what is missing', () => {
    expect(resolve('{vault://env/nope}', [])).toEqual({ error: "environment variable NOPE is not set (vault reference '{vault://env/nope}')" });
    expect(resolve('{vault://env/creds/n}', [])).toEqual({ error: "environment variable CREDS has no string key 'n'" });
    expect(resolve('{vault://env/db-password/user}', [])).toEqual({ error: "environment variable DB_PASSWORD is not JSON, so key 'user' cannot be read from it" });
    expect(resolve('{vault://aws/x}', [])).toEqual({ error: "vault 'aws' is not declared: add it under 'vaults', or use {vault://env/...}" });
  });
});
