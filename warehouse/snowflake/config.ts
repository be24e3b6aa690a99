/**
 * Snowflake connection settings, parsed once at the edge from a config file (YAML or JSON) and the
 * standard SNOWFLAKE_* environment variables (which win over the file). Every problem is reported
 * as InvalidConfig naming the variable or the file field and saying what to write.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { BackfillError, BackfillFailure } from '../../contracts/errors';

/** Config file fields and the environment variables that set them. */
const ENV: Record<string, readonly string[]> = {
  account: ['SNOWFLAKE_ACCOUNT'],
  user: ['SNOWFLAKE_USER'],
  role: ['SNOWFLAKE_ROLE'],
  warehouse: ['SNOWFLAKE_WAREHOUSE'],
  database: ['SNOWFLAKE_DATABASE'],
  schema: ['SNOWFLAKE_SCHEMA'],
  password: ['SNOWFLAKE_PASSWORD'],
  private_key_path: ['SNOWFLAKE_PRIVATE_KEY_PATH', 'SNOWFLAKE_PRIVATE_KEY_FILE'],
  private_key: ['SNOWFLAKE_PRIVATE_KEY'],
  private_key_passphrase: ['SNOWFLAKE_PRIVATE_KEY_PASSPHRASE'],
  access_url: ['SNOWFLAKE_ACCESS_URL'],
};

const PEM = /^-----BEGIN (ENCRYPTED |RSA )?PRIVATE KEY-----\n[\s\S]+\n-----END (ENCRYPTED |RSA )?PRIVATE KEY-----$/;

const required = (what: string, example: string) =>
  z
    .string({
      error: (i) =>
        i.input === undefined ? `is required; write ${what}, e.g. ${example}` : `must be text, e.g. ${example}`,
    })
    .trim()
    .min(1, { message: `is empty; write ${what}, e.g. ${example}` });

/** An object name as Snowflake takes it in connection settings (folded to upper case when unquoted). */
const objectName = (what: string, example: string) =>
  required(what, example).regex(/^[A-Za-z_][A-Za-z0-9_$]*$/, {
    message: `must be a plain name (letters, digits, _ and $); write ${what}, e.g. ${example}`,
  });

export const snowflakeConfigSchema = z
  .strictObject({
    /** Account identifier: orgname-accountname or the account locator (xy12345, xy12345.us-east-1). */
    account: required('the account identifier', 'xy12345 or myorg-myaccount').superRefine((v, ctx) => {
      if (/:\/\/|snowflakecomputing\.(com|cn)/i.test(v)) {
        ctx.addIssue({
          code: 'custom',
          message: `"${v}" is a URL; write the account identifier, e.g. xy12345 or myorg-myaccount, not a URL`,
        });
      } else if (!/^\w+([.-]\w+)*$/.test(v)) {
        ctx.addIssue({
          code: 'custom',
          message: `"${v}" is not an account identifier; write e.g. xy12345 or myorg-myaccount`,
        });
      }
    }),
    user: required('the login name of the backfill user', 'BACKFILL_SVC'),
    /** Role the backfill runs as; the user's default role when absent. */
    role: objectName('the role', 'BACKFILL_ROLE').optional(),
    /**
     * A warehouse dedicated to backfills, separate from the one the live pipeline and dashboards
     * use: rewriting months of history must not queue behind (or slow down) live loads, and its
     * credits show up on their own line.
     */
    warehouse: objectName('a warehouse dedicated to backfills (not the live pipeline\'s)', 'BACKFILL_WH'),
    /** Database holding the tables the specs name (specs write schema.table). */
    database: objectName('the database', 'ANALYTICS'),
    schema: objectName('the default schema', 'PUBLIC').optional(),
    password: z.string().min(1, { message: 'is empty; remove it or write the password' }).optional(),
    /** PEM private key file for key-pair (SNOWFLAKE_JWT) login, relative to the config file. */
    private_key_path: z
      .string()
      .trim()
      .min(1, { message: 'is empty; write the path of the PEM private key, e.g. ~/.snowflake/backfill_key.p8' })
      .optional(),
    /** The PEM private key itself (literal \n sequences are read as newlines). */
    private_key: z
      .string()
      .transform((v) => v.replace(/\\n/g, '\n').trim())
      .refine((v) => PEM.test(v), {
        message: 'must be a PEM private key, starting -----BEGIN PRIVATE KEY----- (or ENCRYPTED PRIVATE KEY)',
      })
      .optional(),
    private_key_passphrase: z
      .string()
      .min(1, { message: 'is empty; remove it or write the key passphrase' })
      .optional(),
    /** Overrides the account's URL, e.g. a private-link host or the local wire emulator (http://127.0.0.1:PORT). */
    access_url: z
      .string()
      .trim()
      .refine((v) => /^https?:\/\/[^/\s]+\/?$/.test(v), { message: 'must be a scheme and host, e.g. https://xy12345.privatelink.snowflakecomputing.com or http://127.0.0.1:8080' })
      .optional(),
    /** Price of one credit, for cost estimates (e.g. 3.0 USD). */
    price_per_credit: z
      .number({ error: 'must be a number of USD per credit, e.g. 3' })
      .positive({ message: 'must be positive' })
      .optional(),
    /** Credits per hour of the backfill warehouse's size (X-Small 1, Small 2, Medium 4, Large 8, ...). */
    credits_per_hour: z
      .number({ error: 'must be a number of credits per hour, e.g. 1 for X-Small' })
      .positive({ message: 'must be positive' })
      .optional(),
    /** Connections (sessions) the driver keeps at most: one per concurrent statement or transaction. */
    max_connections: z
      .number({ error: 'must be a whole number, e.g. 4' })
      .int({ message: 'must be a whole number' })
      .min(1)
      .max(64)
      .default(4),
  })
  .superRefine((c, ctx) => {
    if ((c.price_per_credit === undefined) !== (c.credits_per_hour === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['price_per_credit'],
        message: 'goes with credits_per_hour (USD per hour is the two multiplied); set both or neither',
      });
    }
  });

export type SnowflakeAuth =
  | { kind: 'key-pair'; privateKeyPath?: string; privateKey?: string; passphrase?: string }
  | { kind: 'password'; password: string };

export interface SnowflakeConfig {
  account: string;
  user: string;
  role?: string;
  /** A warehouse dedicated to backfills, not the live pipeline's. */
  warehouse: string;
  database: string;
  schema?: string;
  auth: SnowflakeAuth;
  accessUrl?: string;
  /** USD per credit and credits per hour of the warehouse size, when cost estimates are wanted. */
  pricePerCredit?: number;
  creditsPerHour?: number;
  maxConnections: number;
}

type Raw = Record<string, unknown>;

/** Where a field came from, for messages: the environment variable, or the file field. */
type Sources = Record<string, string>;

function fromEnv(env: NodeJS.ProcessEnv): { raw: Raw; sources: Sources } {
  const raw: Raw = {};
  const sources: Sources = {};
  for (const [field, names] of Object.entries(ENV)) {
    const name = names.find((n) => env[n] !== undefined && env[n] !== '');
    if (name) {
      raw[field] = env[name];
      sources[field] = name;
    }
  }
  return { raw, sources };
}

function fromFile(path: string): Raw {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BackfillFailure(
      BackfillError.InvalidConfig,
      `Snowflake config ${path} cannot be read (${(e as Error).message}); check the path.`,
      { path },
    );
  }
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (e) {
    throw new BackfillFailure(
      BackfillError.InvalidConfig,
      `Snowflake config ${path} is not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`,
      { path },
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BackfillFailure(
      BackfillError.InvalidConfig,
      `Snowflake config ${path} must be a mapping of fields (account, user, warehouse, ...).`,
      { path },
    );
  }
  return parsed as Raw;
}

function build(raw: Raw, sources: Sources, file: string | undefined): SnowflakeConfig {
  const where = (field: string) => {
    const env = ENV[field]?.[0];
    if (sources[field]) return sources[field]!;
    if (!file) return env ?? `${field} (config file)`;
    return env ? `${file}: ${field} (or ${env})` : `${file}: ${field}`;
  };
  const parsed = snowflakeConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((i) => {
      if (i.code === 'unrecognized_keys') {
        return i.keys.map((k) => `${file ? `${file}: ` : ''}${k}: unknown field; ` +
          `known fields are ${Object.keys(snowflakeConfigSchema.shape).join(', ')}`);
      }
      const field = String(i.path[0] ?? '');
      return [`${field ? where(field) : file ?? 'Snowflake config'}: ${i.message}`];
    });
    throw new BackfillFailure(BackfillError.InvalidConfig, `Snowflake config is invalid: ${issues.join('; ')}.`, {
      issues,
    });
  }
  const c = parsed.data;
  const problems: string[] = [];
  const hasKey = c.private_key_path !== undefined || c.private_key !== undefined;
  if (c.password !== undefined && hasKey) {
    const key = where(c.private_key !== undefined ? 'private_key' : 'private_key_path');
    problems.push(
      `${where('password')} and ${key} are both set; use key-pair login (preferred) or a password, not both`,
    );
  } else if (c.password === undefined && !hasKey) {
    problems.push(`no credentials: set ${where('private_key_path')} to a PEM private key for key-pair login, ` +
      `or ${where('password')}`);
  }
  if (c.private_key_path !== undefined && c.private_key !== undefined) {
    problems.push(`${where('private_key')} and ${where('private_key_path')} are both set; ` +
      `give the key value or the key file, not both`);
  }
  if (c.private_key_passphrase !== undefined && !hasKey) {
    problems.push(`${where('private_key_passphrase')} is set but there is no private key; ` +
      `set ${where('private_key_path')} or remove the passphrase`);
  }
  if (problems.length) {
    throw new BackfillFailure(BackfillError.InvalidConfig, `Snowflake config is invalid: ${problems.join('; ')}.`, {
      issues: problems,
    });
  }
  let keyPath = c.private_key_path;
  if (keyPath !== undefined) {
    keyPath = keyPath.replace(/^~(?=\/)/, process.env.HOME ?? '~');
    if (file && !sources.private_key_path) keyPath = resolve(dirname(file), keyPath);
    if (!existsSync(keyPath)) {
      throw new BackfillFailure(
        BackfillError.InvalidConfig,
        `${where('private_key_path')}: the private key file ${keyPath} does not exist; ` +
          `write the path of the PEM key registered for ${c.user} (ALTER USER ... SET RSA_PUBLIC_KEY).`,
        { path: keyPath },
      );
    }
  }
  const auth: SnowflakeAuth =
    c.password !== undefined
      ? { kind: 'password', password: c.password }
      : { kind: 'key-pair', privateKeyPath: keyPath, privateKey: c.private_key, passphrase: c.private_key_passphrase };
  return {
    account: c.account,
    user: c.user,
    role: c.role,
    warehouse: c.warehouse,
    database: c.database,
    schema: c.schema,
    auth,
    accessUrl: c.access_url?.replace(/\/$/, ''),
    pricePerCredit: c.price_per_credit,
    creditsPerHour: c.credits_per_hour,
    maxConnections: c.max_connections,
  };
}

/** Settings from the SNOWFLAKE_* environment variables alone. */
export function snowflakeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SnowflakeConfig {
  const { raw, sources } = fromEnv(env);
  return build(raw, sources, undefined);
}

/** Settings from a config file (YAML or JSON), overridden field by field by SNOWFLAKE_* variables. */
export function loadSnowflakeConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): SnowflakeConfig {
  if (path === undefined) return snowflakeConfigFromEnv(env);
  const { raw, sources } = fromEnv(env);
  return build({ ...fromFile(path), ...raw }, sources, path);
}
