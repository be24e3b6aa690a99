/**
 * Snowflake settings from a config file and SNOWFLAKE_* variables: what parses, what wins, and
 * that every mistake is an InvalidConfig naming the variable or field and saying what to write.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackfillError, BackfillFailure } from '../../../contracts/errors';
import {
  DEFAULT_DUCKDB_MEMORY_LIMIT, DEFAULT_DUCKDB_PATH, duckDbSettings, SNOWFLAKE_FROM_ENV, warehouseConfigFromEnv,
} from '../../../warehouse/open';
import { loadSnowflakeConfig, snowflakeConfigFromEnv } from '../../../warehouse/snowflake/config';

const dir = mkdtempSync(join(tmpdir(), 'snowflake-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const keyFile = join(dir, 'backfill_key.p8');
writeFileSync(keyFile, privateKey);

const base = {
  SNOWFLAKE_ACCOUNT: 'myorg-myaccount',
  SNOWFLAKE_USER: 'BACKFILL_SVC',
  SNOWFLAKE_WAREHOUSE: 'BACKFILL_WH',
  SNOWFLAKE_DATABASE: 'ANALYTICS',
};

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BackfillFailure);
    expect((e as BackfillFailure).code).toBe(BackfillError.InvalidConfig);
    return (e as Error).message;
  }
  throw new Error('expected an InvalidConfig failure');
}

describe('snowflakeConfigFromEnv', () => {
  it('reads a password login from the standard variables', () => {
    expect(
      snowflakeConfigFromEnv({
        ...base,
        SNOWFLAKE_ROLE: 'BACKFILL_ROLE',
        SNOWFLAKE_SCHEMA: 'FINANCE',
        SNOWFLAKE_PASSWORD: 'pw',
      }),
    ).toEqual({
      account: 'myorg-myaccount',
      user: 'BACKFILL_SVC',
      role: 'BACKFILL_ROLE',
      warehouse: 'BACKFILL_WH',
      database: 'ANALYTICS',
      schema: 'FINANCE',
      auth: { kind: 'password', password: 'pw' },
      maxConnections: 4,
    });
  });

  it('reads a key-pair login from a key file (either variable name) or a PEM value with \\n escapes', () => {
    const viaPath = snowflakeConfigFromEnv({
      ...base,
      SNOWFLAKE_PRIVATE_KEY_PATH: keyFile,
      SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'pass',
    });
    expect(viaPath.auth).toEqual({
      kind: 'key-pair',
      privateKeyPath: keyFile,
      privateKey: undefined,
      passphrase: 'pass',
    });
    expect(snowflakeConfigFromEnv({ ...base, SNOWFLAKE_PRIVATE_KEY_FILE: keyFile }).auth).toMatchObject({
      kind: 'key-pair',
      privateKeyPath: keyFile,
    });
    const inline = snowflakeConfigFromEnv({ ...base, SNOWFLAKE_PRIVATE_KEY: privateKey.trim().replace(/\n/g, '\\n') });
    expect(inline.auth).toMatchObject({ kind: 'key-pair', privateKey: privateKey.trim() });
  });

  it('takes SNOWFLAKE_ACCESS_URL as an override (the local wire emulator)', () => {
    expect(snowflakeConfigFromEnv({ ...base, SNOWFLAKE_PASSWORD: 'pw', SNOWFLAKE_ACCESS_URL: 'http://127.0.0.1:4567/' }).accessUrl).toBe('http://127.0.0.1:4567');
  });

  it.each([
    [{ SNOWFLAKE_ACCOUNT: 'https://xy12345.snowflakecomputing.com' }, /SNOWFLAKE_ACCOUNT: .*write the account identifier, e\.g\. xy12345 or myorg-myaccount, not a URL/],
    [{ SNOWFLAKE_ACCOUNT: 'xy12345.snowflakecomputing.com' }, /SNOWFLAKE_ACCOUNT: .*not a URL/],
    [{ SNOWFLAKE_ACCOUNT: 'my account' }, /SNOWFLAKE_ACCOUNT: "my account" is not an account identifier/],
    [{ SNOWFLAKE_WAREHOUSE: undefined }, /SNOWFLAKE_WAREHOUSE: is required; write a warehouse dedicated to backfills/],
    [{ SNOWFLAKE_DATABASE: 'analytics.finance' }, /SNOWFLAKE_DATABASE: must be a plain name/],
    [{ SNOWFLAKE_ACCESS_URL: 'http://127.0.0.1:1/path', SNOWFLAKE_PASSWORD: 'pw' }, /SNOWFLAKE_ACCESS_URL: must be a scheme and host/],
    [{ SNOWFLAKE_PRIVATE_KEY: 'not a key' }, /SNOWFLAKE_PRIVATE_KEY: must be a PEM private key/],
  ])('refuses %o with a message naming the variable', (patch: NodeJS.ProcessEnv, message) => {
    const env: NodeJS.ProcessEnv = { ...base, SNOWFLAKE_PASSWORD: 'pw', ...patch };
    if (patch.SNOWFLAKE_PRIVATE_KEY) delete env.SNOWFLAKE_PASSWORD;
    expect(invalid(() => snowflakeConfigFromEnv(env))).toMatch(message);
  });

  it('refuses both a password and a key, and neither', () => {
    expect(
      invalid(() => snowflakeConfigFromEnv({ ...base, SNOWFLAKE_PASSWORD: 'pw', SNOWFLAKE_PRIVATE_KEY_PATH: keyFile })),
    ).toMatch(
      'SNOWFLAKE_PASSWORD and SNOWFLAKE_PRIVATE_KEY_PATH are both set; use key-pair login (preferred) ' +
        'or a password, not both',
    );
    expect(invalid(() => snowflakeConfigFromEnv(base))).toMatch(
      /no credentials: set SNOWFLAKE_PRIVATE_KEY_PATH .* or SNOWFLAKE_PASSWORD/,
    );
    expect(
      invalid(() =>
        snowflakeConfigFromEnv({ ...base, SNOWFLAKE_PASSWORD: 'pw', SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'x' }),
      ),
    ).toMatch(/SNOWFLAKE_PRIVATE_KEY_PASSPHRASE is set but there is no private key/);
  });

  it('refuses a key file that does not exist', () => {
    const missing = join(dir, 'nope.p8');
    expect(invalid(() => snowflakeConfigFromEnv({ ...base, SNOWFLAKE_PRIVATE_KEY_PATH: missing }))).toMatch(
      new RegExp(`SNOWFLAKE_PRIVATE_KEY_PATH: the private key file ${missing} does not exist`),
    );
  });
});

describe('loadSnowflakeConfig', () => {
  it('reads YAML with a key path relative to the file, and SNOWFLAKE_* variables win field by field', () => {
    const yaml = file(
      'snowflake.yaml',
      [
        'account: xy12345.us-east-1', 'user: BACKFILL_SVC', 'warehouse: BACKFILL_WH', 'database: ANALYTICS',
        'private_key_path: backfill_key.p8', 'price_per_credit: 3', 'credits_per_hour: 2', 'max_connections: 8',
      ].join('\n'),
    );
    const config = loadSnowflakeConfig(yaml, { SNOWFLAKE_WAREHOUSE: 'OTHER_WH' });
    expect(config).toMatchObject({
      account: 'xy12345.us-east-1',
      warehouse: 'OTHER_WH',
      auth: { kind: 'key-pair', privateKeyPath: keyFile },
      pricePerCredit: 3,
      creditsPerHour: 2,
      maxConnections: 8,
    });
  });

  it('reads JSON the same way', () => {
    const json = file(
      'snowflake.json',
      JSON.stringify({ account: 'xy12345', user: 'u', warehouse: 'W', database: 'D', password: 'pw' }),
    );
    expect(loadSnowflakeConfig(json, {})).toMatchObject({
      account: 'xy12345',
      auth: { kind: 'password', password: 'pw' },
    });
  });

  it('names the file and field of a problem, and refuses unknown fields and half a price', () => {
    const bad = file('bad.yaml', 'account: https://xy12345.snowflakecomputing.com\nuser: u\nwarehouse: W\ndatabase: D\npassword: pw\n');
    expect(invalid(() => loadSnowflakeConfig(bad, {}))).toMatch(
      new RegExp(`${bad}: account \\(or SNOWFLAKE_ACCOUNT\\): .*not a URL`),
    );
    const typo = file(
      'typo.yaml',
      'account: xy12345\nuser: u\nwarehouse: W\ndatabase: D\npassword: pw\nwarehouse_name: X\n',
    );
    expect(invalid(() => loadSnowflakeConfig(typo, {}))).toMatch(
      /warehouse_name: unknown field; known fields are account, user/,
    );
    const half = file(
      'half.yaml',
      'account: xy12345\nuser: u\nwarehouse: W\ndatabase: D\npassword: pw\nprice_per_credit: 3\n',
    );
    expect(invalid(() => loadSnowflakeConfig(half, {}))).toMatch(/price_per_credit: goes with credits_per_hour/);
    expect(invalid(() => loadSnowflakeConfig(join(dir, 'absent.yaml'), {}))).toMatch(/cannot be read/);
    expect(invalid(() => loadSnowflakeConfig(file('list.yaml', '- a\n- b\n'), {}))).toMatch(/must be a mapping/);
  });

  it('without a file it is the environment alone', () => {
    expect(loadSnowflakeConfig(undefined, { ...base, SNOWFLAKE_PASSWORD: 'pw' }).user).toBe('BACKFILL_SVC');
  });
});

describe('BACKFILL_WAREHOUSE', () => {
  it('selects DuckDB by default and Snowflake by name, from the environment or a config file', () => {
    expect(warehouseConfigFromEnv({})).toEqual({ engine: 'duckdb', path: DEFAULT_DUCKDB_PATH });
    expect(warehouseConfigFromEnv({ BACKFILL_WAREHOUSE: 'duckdb:/tmp/x.duckdb' })).toEqual({
      engine: 'duckdb',
      path: '/tmp/x.duckdb',
    });
    const env = { BACKFILL_WAREHOUSE: 'snowflake' };
    expect(warehouseConfigFromEnv(env)).toEqual({ engine: 'snowflake', path: SNOWFLAKE_FROM_ENV, env });
    expect(warehouseConfigFromEnv({ BACKFILL_WAREHOUSE: 'snowflake:/etc/backfill/snowflake.yaml' })).toMatchObject({
      engine: 'snowflake',
      path: '/etc/backfill/snowflake.yaml',
    });
    expect(invalid(() => warehouseConfigFromEnv({ BACKFILL_WAREHOUSE: 'bigquery:proj' }))).toMatch(
      /engine "bigquery" is not supported/,
    );
  });
});

describe('BACKFILL_DUCKDB_MEMORY_LIMIT', () => {
  it('caps DuckDB\'s buffer pool at 128MB unless it gives a size; anything else is refused naming it', () => {
    expect(DEFAULT_DUCKDB_MEMORY_LIMIT).toBe('128MB');
    expect(duckDbSettings({})).toEqual({ memory_limit: '128MB' });
    expect(duckDbSettings({ BACKFILL_DUCKDB_MEMORY_LIMIT: ' 4GB ' })).toEqual({ memory_limit: '4GB' });
    expect(duckDbSettings({ BACKFILL_DUCKDB_MEMORY_LIMIT: '1.5 GiB' })).toEqual({ memory_limit: '1.5 GiB' });
    for (const bad of ['lots', '99999999999GB', "1GB'; SET x=1", '-1GB', '1 PB']) {
      expect(invalid(() => duckDbSettings({ BACKFILL_DUCKDB_MEMORY_LIMIT: bad }))).toMatch(
        /^BACKFILL_DUCKDB_MEMORY_LIMIT: ".*" is not a size; write e\.g\. 512MB or 4GB\.$/,
      );
    }
  });
});
