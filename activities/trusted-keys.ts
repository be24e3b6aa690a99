/**
 * The trusted keys file the worker reads (BACKFILL_TRUSTED_KEYS): which Ed25519 public keys may
 * sign decisions, and whose each is. It lives with the worker, not in the spec, because the spec
 * is written by whoever requests the backfill. Read at every check, so adding or removing a key
 * takes effect without restarting the worker. Format (YAML or JSON):
 *
 *   keys:
 *     - key_id: 3f1c0a9e5b2d4c71        # backfill keygen prints this entry
 *       name: finance-controller        # must match the decision's "by"
 *       public_key: <base64 of the 32-byte raw public key>
 */
import { createPublicKey, verify } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { SignatureCheck } from '../domain/approval';
import { keyIdOf } from '../domain/decision-digest';

/** Bounds: a keys file is a short list, and a pasted megabyte is a mistake. */
export const TRUSTED_KEYS_LIMITS = { fileBytes: 256 * 1024, keys: 1_000 } as const;

const keyEntry = z.strictObject({
  key_id: z.string().regex(/^[0-9a-f]{16}$/, { message: 'must be the 16 hex characters `backfill keygen` printed' }),
  name: z.string().trim().min(1, { message: 'must name the person or group (their "by")' }).max(200),
  public_key: z.string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, { message: 'must be the base64 of a 32-byte Ed25519 public key' }),
});
const keysFile = z.strictObject({ keys: z.array(keyEntry).max(TRUSTED_KEYS_LIMITS.keys) });

export type TrustedKey = z.infer<typeof keyEntry>;

/** Reads and checks the file; a problem names the file, the entry and the field. */
export async function loadTrustedKeys(file: string): Promise<TrustedKey[] | { problem: string }> {
  let text: string;
  try {
    const size = (await stat(file)).size;
    if (size > TRUSTED_KEYS_LIMITS.fileBytes) {
      const max = TRUSTED_KEYS_LIMITS.fileBytes;
      return { problem: `the worker's trusted keys file ${file} is ${size} bytes, more than ${max}` };
    }
    text = await readFile(file, 'utf8');
  } catch (e) {
    const why = (e as Error).message;
    return { problem: `the worker cannot read its trusted keys file ${file} (BACKFILL_TRUSTED_KEYS): ${why}` };
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    return { problem: `the worker's trusted keys file ${file} is not YAML or JSON: ${(e as Error).message}` };
  }
  const parsed = keysFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { problem: `the worker's trusted keys file ${file}: ${issue.path.join('.') || '(top)'} ${issue.message}` };
  }
  for (const [i, k] of parsed.data.keys.entries()) {
    if (keyIdOf(Buffer.from(k.public_key, 'base64')) !== k.key_id) {
      return { problem: `the worker's trusted keys file ${file}: keys.${i}.key_id does not match its public_key` };
    }
  }
  return parsed.data.keys;
}

/** Checks a decision's signature against the trusted keys; never throws. */
export async function checkSignature(
  file: string | undefined,
  d: { message: string; keyId: string; signature: string },
): Promise<SignatureCheck> {
  if (!file) {
    return {
      ok: false,
      problem:
        'this backfill requires signed decisions, and the worker has no trusted keys file: ' +
        'set BACKFILL_TRUSTED_KEYS on the worker to a file listing the approvers\' public keys',
    };
  }
  const keys = await loadTrustedKeys(file);
  if (!Array.isArray(keys)) return { ok: false, problem: keys.problem };
  const key = keys.find((k) => k.key_id === d.keyId);
  if (!key) return { ok: false, problem: `key ${d.keyId} is not in the worker's trusted keys file ${file}` };
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key.public_key, 'base64').toString('base64url') },
    format: 'jwk',
  });
  let valid = false;
  try {
    valid = verify(null, Buffer.from(d.message, 'utf8'), publicKey, Buffer.from(d.signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) {
    return {
      ok: false,
      problem: `the signature does not verify with key ${d.keyId} (${key.name}): it was made for another decision, ` +
        'digest or text, or with another key',
    };
  }
  return { ok: true, keyId: key.key_id, name: key.name };
}
