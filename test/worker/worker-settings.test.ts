/** The worker's environment: defaults from contracts/settings.ts, "off", and errors that name the variable. */
import { describe, expect, it } from 'vitest';
import { BackfillError, isBackfillFailure } from '../../contracts/errors';
import { DEFAULT_NAMESPACE, DEFAULT_TEMPORAL_ADDRESS, TASK_QUEUE } from '../../contracts/settings';
import { formatBindAddress, parseBindAddress, workerSettingsFromEnv } from '../../worker/worker-settings';

const failureOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
};

describe('workerSettingsFromEnv', () => {
  it('defaults to the project settings and both metrics endpoints on all interfaces', () => {
    expect(workerSettingsFromEnv({ TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' })).toEqual({
      address: DEFAULT_TEMPORAL_ADDRESS,
      namespace: DEFAULT_NAMESPACE,
      connection: { options: { address: DEFAULT_TEMPORAL_ADDRESS }, namespace: DEFAULT_NAMESPACE },
      taskQueue: TASK_QUEUE,
      sdkMetrics: { host: '0.0.0.0', port: 9464 },
      metrics: { host: '0.0.0.0', port: 9465 },
      logLevel: 'INFO',
      trustedKeys: null,
    });
  });

  it('takes every variable, "off" for an endpoint, and a level in any case', () => {
    expect(workerSettingsFromEnv({
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'finance',
      BACKFILL_TASK_QUEUE: 'backfills-eu',
      BACKFILL_METRICS_SDK_ADDRESS: 'OFF',
      BACKFILL_METRICS_ADDRESS: '[::]:9999',
      BACKFILL_LOG_LEVEL: 'debug',
      BACKFILL_TRUSTED_KEYS: ' /etc/backfill/trusted-keys.yaml ',
      TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml',
    })).toEqual({
      address: 'temporal:7233',
      namespace: 'finance',
      connection: { options: { address: 'temporal:7233' }, namespace: 'finance' },
      taskQueue: 'backfills-eu',
      sdkMetrics: null,
      metrics: { host: '::', port: 9999 },
      logLevel: 'DEBUG',
      trustedKeys: '/etc/backfill/trusted-keys.yaml',
    });
  });

  it('reaches Temporal as the CLI does: TLS with a private CA and a client certificate, or an API key', () => {
    const base = { TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' };
    const mtls = workerSettingsFromEnv({
      ...base,
      TEMPORAL_TLS_SERVER_CA_CERT_DATA: 'ca-pem',
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      TEMPORAL_TLS_CLIENT_CERT_DATA: 'client-pem',
      TEMPORAL_TLS_CLIENT_KEY_DATA: 'client-key',
    }).connection.options;
    const bytes = (text: string) => new TextEncoder().encode(text);
    expect(mtls.tls).toEqual({
      serverNameOverride: 'temporal.internal',
      serverRootCACertificate: bytes('ca-pem'),
      clientCertPair: { crt: bytes('client-pem'), key: bytes('client-key') },
    });
    const cloud = workerSettingsFromEnv({ ...base, TEMPORAL_API_KEY: 'secret', TEMPORAL_NAMESPACE: 'acme.a1b2c' });
    expect(cloud.connection.options).toMatchObject({ apiKey: 'secret', tls: true });
    expect(cloud.namespace).toBe('acme.a1b2c');
    // A blank variable is unset, as in a shell: the default address, not an empty one.
    expect(workerSettingsFromEnv({ ...base, TEMPORAL_ADDRESS: ' ' }).address).toBe(DEFAULT_TEMPORAL_ADDRESS);
  });

  it.each([
    [
      'BACKFILL_METRICS_ADDRESS',
      '9465',
      /BACKFILL_METRICS_ADDRESS="9465": expected host:port such as 0\.0\.0\.0:9465, or "off"/,
    ],
    [
      'BACKFILL_METRICS_SDK_ADDRESS',
      'localhost:99999',
      /BACKFILL_METRICS_SDK_ADDRESS="localhost:99999": expected host:port such as 0\.0\.0\.0:9464/,
    ],
    ['BACKFILL_LOG_LEVEL', 'verbose', /BACKFILL_LOG_LEVEL="verbose": expected one of TRACE, DEBUG, INFO, WARN, ERROR/],
    ['TEMPORAL_ADDRESS', 'http://temporal:7233', /TEMPORAL_ADDRESS="http:\/\/temporal:7233": expected host:port/],
  ])('refuses %s=%s as invalid config, naming the variable', (name, value, message) => {
    const e = failureOf(() => workerSettingsFromEnv({ [name]: value }));
    expect(isBackfillFailure(e, BackfillError.InvalidConfig)).toBe(true);
    expect((e as Error).message).toMatch(message);
  });

  it('round-trips bind addresses, IPv6 in brackets', () => {
    for (const text of ['0.0.0.0:9464', '[::]:9465', 'localhost:0']) {
      expect(formatBindAddress(parseBindAddress(text, 'X'))).toBe(text);
    }
  });
});
