/**
 * Signing keys for decisions: `backfill keygen` makes an Ed25519 key pair, keeps the private key
 * in a file only its owner can read, and prints the entry to add to the worker's trusted keys file
 * (activities/trusted-keys.ts); `approve --key FILE` (and reject, resolve accept, rollback,
 * signoff) signs the decision with it. Node's own crypto: nothing to install.
 */
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { PAYLOAD_LIMITS } from '../contracts/limits';
import { keyIdOf, signedMessage, type DecisionText } from '../domain/decision-digest';

const keyFile = z.strictObject({
  key_id: z.string().regex(/^[0-9a-f]{16}$/),
  name: z.string().trim().min(1).max(PAYLOAD_LIMITS.nameChars),
  public_key: z.string(),
  private_key: z.strictObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), d: z.string() }),
});
export type KeyFile = z.infer<typeof keyFile>;

/** The line for the worker's trusted keys file: who the key belongs to, and its public half. */
export interface TrustedKeyEntry {
  key_id: string;
  name: string;
  public_key: string;
}

/** Makes a key pair for `name` and writes it to `out` (mode 0600, never over an existing file). */
export async function keygen(name: string, out: string): Promise<TrustedKeyEntry> {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > PAYLOAD_LIMITS.nameChars) {
    throw new BackfillFailure(
      BackfillError.InvalidRequest,
      `--name must be the name you decide as (your "by"), 1..${PAYLOAD_LIMITS.nameChars} characters.`,
    );
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as { kty: 'OKP'; crv: 'Ed25519'; x: string; d: string };
  const raw = Buffer.from(jwk.x, 'base64url');
  const entry = { key_id: keyIdOf(raw), name: trimmed, public_key: raw.toString('base64') };
  const file: KeyFile = { ...entry, private_key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d } };
  try {
    await writeFile(out, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
    throw new BackfillFailure(
      BackfillError.InvalidRequest,
      exists
        ? `${out} already exists; keygen never overwrites a key. Choose another --out, or delete it yourself.`
        : `cannot write ${out}: ${(e as Error).message}`,
      { file: out },
    );
  }
  return entry;
}

/** Reads a private key file written by keygen; refuses anything else, naming the file. */
export async function readKeyFile(path: string): Promise<KeyFile> {
  const bad = (why: string) =>
    new BackfillFailure(BackfillError.InvalidRequest, `--key ${path}: ${why}`, { file: path });
  let text: string;
  try {
    if ((await stat(path)).size > 16 * 1024) {
      throw bad('is larger than a key file (16 KiB); pass the file keygen wrote');
    }
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof BackfillFailure) throw e;
    throw bad(`cannot read it: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('is not a key file written by `backfill keygen` (not JSON)');
  }
  const key = keyFile.safeParse(parsed);
  if (!key.success) {
    throw bad(`is not a key file written by \`backfill keygen\` (${key.error.issues[0]!.path.join('.')})`);
  }
  return key.data;
}

/** The base64 Ed25519 signature of a decision (domain/decision-digest.ts signedMessage). */
export function signDecision(key: KeyFile, d: DecisionText): string {
  const privateKey = createPrivateKey({ key: key.private_key, format: 'jwk' });
  return sign(null, Buffer.from(signedMessage(d), 'utf8'), privateKey).toString('base64');
}
